@orders @allure.label.epic:Trading
Feature: Dry run
  A dry run rehearses live trading without capital: the bot reads the real market, fills its own
  orders against the prices the exchange offers, keeps its own wallet and books, and obeys every
  limit as in live. No order ever reaches the exchange.

  Background:
    Given the price of XBT/EUR is 60,000 EUR

  @safety @blocker @allure.label.story:dry-run
  Scenario: A dry run never sends an order to the exchange
    Given the bot is connected to the exchange in dry-run mode
    When the bot asks to buy 0.01 XBT at market
    Then the order is accepted
    And the exchange received no order for it
    And the account's balances are unchanged
    And the dry run's wallet holds 0.01 XBT more
    And the audit trail shows the order as answered by the dry run, and as sent only what the exchange received

  @safety @critical @allure.label.story:dry-run
  Scenario: A dry run fills a market order at the prices the book offered
    Given the bot is connected to the exchange in dry-run mode
    And the order book of XBT/EUR offers 0.004 XBT at each price
    When the bot asks to buy 0.01 XBT at market
    Then the dry run's fills are the book's first 3 offers, the last one in part
    And each fill paid the taker fee

  @safety @blocker @allure.label.story:dry-run
  Scenario Outline: A dry run refuses the trade after the daily allowance exactly as live
    Given the bot is connected to the exchange in <mode> mode
    And the bot's risk limits are:
      | limit          | value |
      | trades per day | 3     |
    And the bot has made 3 trades today
    When the bot asks to buy 0.001 XBT at market
    Then the order is refused for reason DAILY_TRADE_LIMIT
    And the exchange received no order for it

    Examples:
      | mode    |
      | dry-run |
      | live    |

  @safety @critical @allure.label.story:dry-run
  Scenario: A dry run refuses an order its wallet cannot pay, as the exchange would
    Given the order book of XBT/EUR offers 0.001 XBT at each price
    And the dry run's wallet holds 602.50 EUR
    And the bot's risk limits are:
      | limit                                | value |
      | largest position, % of the portfolio | 100   |
    And the bot is connected to the exchange in dry-run mode
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for insufficient funds, in the exchange's words
    And the dry run bought nothing and its wallet still holds 602.50 EUR

  @safety @critical @allure.label.story:dry-run
  Scenario: A dry run's profit and loss is the sum of its fills and fees
    Given the bot is connected to the exchange in dry-run mode
    And the bot has bought 0.01 XBT at market
    And the price of XBT/EUR has risen to 61,000 EUR
    When the bot asks to sell 0.01 XBT at market
    Then the dry run's realised profit is what its sales brought in less what its buys cost and every fee
    And the dry run's wallet moved by the same amount of EUR

  @safety @critical @allure.label.story:dry-run
  Scenario: Dry run and live agree on the same market
    Given the order book of XBT/EUR offers 0.004 XBT at each price
    And a dry run has bought 0.01 XBT at market
    When the bot buys 0.01 XBT at market in live mode on the same market
    Then live got the same fills at the same prices and fees as the dry run
    And the account's balances moved exactly as the dry run's wallet did
