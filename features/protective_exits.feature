@risk @allure.label.epic:Protection
Feature: The bot's own stop-loss and take-profit
  When the bot holds a position and no protective order rests at the exchange, the bot itself
  watches the bid at every trading cycle. A bid at or below the stop-loss, or at or above the
  take-profit, sells the whole position at market in that cycle; a bid in between keeps it.
  Both levels are measured from the position's average entry price, its fee included. The
  strategy's own profit target is set out of reach here, so only these exits can sell.
  Against the simulated exchange, live mode moves no real money.

  Background:
    Given the bot's risk limits are:
      | limit                                  | value |
      | stop-loss below the average entry, %   | 5     |
      | take-profit above the average entry, % | 10    |
      | the strategy's own profit target, %    | 50    |
    And the bot is connected to the exchange in live mode
    And the bot holds 0.01 XBT bought at an asking price of 60,000 EUR, an average entry of 60,240 EUR with the fee, and no protective order at the exchange

  @safety @blocker @fault-injection @allure.label.story:stop-loss
  Scenario Outline: A fall to or past the stop-loss sells the position in the next trading cycle
    Given the price of XBT/EUR has fallen to <price> EUR
    When the bot runs its next trading cycle a minute later
    Then the bot has sold the whole position at market by its stop-loss

    Examples: The stop-loss is 5% below 60,240 EUR: a bid of 57,228 EUR (the bid is 0.10 EUR below the price)
      | price    |
      | 57,228.1 |

  @safety @blocker @fault-injection @allure.label.story:stop-loss
  Scenario: A stop-loss sell the exchange turned away is sent again in the next trading cycle
    A stop-loss that failed once must not stay silent: the position is still at risk.

    Given the price of XBT/EUR has fallen to 57,200 EUR
    And the exchange turns away the bot's next order, accepting only cancellations for a moment
    And the bot has run its next trading cycle a minute later, its stop-loss sell turned away
    When the bot runs its next trading cycle a minute later
    Then the bot has sold the whole position at market by its stop-loss

  @safety @blocker @fault-injection @allure.label.story:stop-loss
  Scenario: A stop-loss first withdraws the bot's sale resting above the market, then sells the whole position
    Part of the position is offered on the book: selling the whole position beside that offer would
    sell coins the bot does not own once both fill, and leaving the offer would keep part of the
    position at risk. The stop-loss cancels the offer, then sells everything.

    Given the bot offers 0.004 XBT of its position with a limit sell resting at 61,000 EUR
    And the price of XBT/EUR has fallen to 57,200 EUR
    When the bot runs its next trading cycle a minute later
    Then the bot's resting sell is cancelled on the exchange
    And the bot has sold the whole position at market by its stop-loss

  @safety @blocker @fault-injection @allure.label.story:stop-loss
  Scenario: A purchase whose trade cannot be read does not shrink the stop-loss sale
    A purchase the exchange filled while its trade could not be read leaves the bot holding more, never
    less: the stop-loss still sells all the position the bot's records hold.

    Given the bot's risk limits are:
      | limit                   | value |
      | largest position in XBT | 1     |
    And the bot has a limit buy of 0.005 XBT resting at 59,000 EUR
    And the market will fall through that price just as the bot's cancel reaches the exchange
    And the exchange refuses to show the account's trades for a while
    And the bot has cancelled that order too late: the exchange had filled it, and the bot could not read its trade
    And the price of XBT/EUR has fallen to 57,200 EUR
    When the bot runs its next trading cycle a minute later
    Then the bot has sold at market by its stop-loss the 0.01 XBT its records hold
    When the bot runs its next trading cycle a minute later, the exchange having recovered
    Then the bot's own records show the 0.005 XBT bought, as on the exchange

  @safety @blocker @fault-injection @allure.label.story:protective-exits
  Scenario Outline: A bid between the stop-loss and the take-profit keeps the position
    Given the price of XBT/EUR has moved to <price> EUR
    When the bot runs its next trading cycle a minute later
    Then the bot still holds the position and sent no order

    Examples: A fall to a bid one step above the stop-loss of 57,228 EUR
      | price    |
      | 57,228.2 |

    Examples: A rise to a bid one step below the take-profit of 66,264 EUR
      | price    |
      | 66,264.0 |

  @safety @blocker @fault-injection @allure.label.story:take-profit
  Scenario Outline: A rise to or past the take-profit sells the position in the next trading cycle
    Given the price of XBT/EUR has risen to <price> EUR
    When the bot runs its next trading cycle a minute later
    Then the bot has sold the whole position at market by its take-profit

    Examples: The take-profit is 10% above 60,240 EUR: a bid of 66,264 EUR (the bid is 0.10 EUR below the price)
      | price    |
      | 66,264.1 |
