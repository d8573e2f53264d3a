@orders @allure.label.epic:Trading
Feature: The strategy's own trades
  The strategy buys 10 EUR of XBT, at the asking price, each time that price is 2% or more below
  its reference: the first price it saw, then the price of its last purchase. With a position,
  it sells all of it with a limit order at the bid once the bid is its profit target (3%) above
  the position's average entry, the purchase's fee included. All are the defaults; the
  stop-loss and take-profit (5% and 10%) stay out of the way here.
  Against the simulated exchange, live mode moves no real money.

  Background:
    Given the bot is connected to the exchange in live mode

  @safety @critical @fault-injection @allure.label.story:strategy
  Scenario Outline: After buying a dip, the strategy buys again only once the asking price is 2% below that purchase
    Given the price of XBT/EUR is 60,000 EUR
    And the bot has run one trading cycle at that price
    And the price of XBT/EUR has fallen to 58,000 EUR
    And the bot has run its next trading cycle a minute later, buying at the asking price of 58,000.1 EUR
    And the price of XBT/EUR has fallen to <price> EUR
    When the bot runs its next trading cycle a minute later
    Then the strategy has bought <buys> in all

    Examples: 2% below 58,000.10 EUR is 56,840.098 EUR: the first asking price at or below it is 56,840 EUR
      | price    | buys  |
      | 56,840   | once  |
      | 56,839.9 | twice |

  @safety @critical @fault-injection @allure.label.story:strategy
  Scenario Outline: The first reference is the middle of the book to the cent, not rounded to a whole euro
    Given the price of XBT/EUR is 60,000.5 EUR
    And the bot has run one trading cycle at that price
    And the price of XBT/EUR has fallen to <price> EUR
    When the bot runs its next trading cycle a minute later
    Then the strategy has bought <buys> in all

    Examples: 2% below 60,000.50 EUR is 58,800.49 EUR; the asking price is 0.10 EUR above the price
      | price    | buys       |
      | 58,800.3 | once       |
      | 58,800.4 | not at all |

  @safety @critical @fault-injection @allure.label.story:strategy
  Scenario: After selling at its profit target, the strategy measures the next dip from the next price, not from its sale
    A sale is no purchase: the strategy starts afresh from the next price it sees, so a fall
    just below the sale's price is not a dip to buy.

    Given the bot holds 0.01 XBT bought at an asking price of 60,000 EUR, an average entry of 60,240 EUR with the fee, and no protective order at the exchange
    And the price of XBT/EUR has risen to 63,000 EUR
    And the bot has run its next trading cycle a minute later, selling the whole position at the bid, 62,999.9 EUR
    And the price of XBT/EUR has fallen to 61,700 EUR
    When the bot runs its next trading cycle a minute later
    Then the exchange received no order

  @safety @critical @fault-injection @allure.label.story:strategy
  Scenario: After selling at its profit target, the strategy no longer measures dips from its last purchase
    The sale ends the purchase's reference: the next price the strategy sees is its reference, and a
    fall of 2% from that price is a dip to buy, though it is far above the old purchase.

    Given the price of XBT/EUR is 60,000 EUR
    And the bot has run one trading cycle at that price
    And the price of XBT/EUR has fallen to 58,700 EUR
    And the bot has run its next trading cycle a minute later, buying at the asking price of 58,700.1 EUR
    And the price of XBT/EUR has risen to 61,000 EUR
    And the bot has run its next trading cycle a minute later, selling the whole position at the bid, 60,999.9 EUR
    And the bot has run its next trading cycle a minute later, placing no order
    And the price of XBT/EUR has fallen to 59,700 EUR
    When the bot runs its next trading cycle a minute later
    Then the strategy has bought twice in all

  @safety @critical @fault-injection @allure.label.story:strategy
  Scenario Outline: The strategy sells the whole position at the bid once the bid is 3% above the average entry, not before
    Given the bot holds 0.01 XBT bought at an asking price of 60,000 EUR, an average entry of 60,240 EUR with the fee, and no protective order at the exchange
    And the price of XBT/EUR has risen to <price> EUR
    When the bot runs its next trading cycle a minute later
    Then <outcome>

    Examples: 3% above 60,240 EUR is a bid of 62,047.20 EUR (the bid is 0.10 EUR below the price)
      | price    | outcome                                                                        |
      | 62,047.3 | the bot has sold the whole position with a limit sell at the bid, 62,047.2 EUR |
      | 62,047.2 | the bot still holds the position and sent no order                             |
      | 63,000   | the bot has sold the whole position with a limit sell at the bid, 62,999.9 EUR |

  @safety @critical @fault-injection @allure.label.story:strategy
  Scenario Outline: The profit target is measured from the average entry to the cent, not from a whole euro
    Given the bot holds 0.01 XBT bought at an asking price of 60,000.5 EUR, an average entry of 60,240.5 EUR with the fee, and no protective order at the exchange
    And the price of XBT/EUR has risen to <price> EUR
    When the bot runs its next trading cycle a minute later
    Then <outcome>

    Examples: 3% above 60,240.50 EUR is a bid of 62,047.715 EUR; 3% above 60,240 EUR would be 62,047.20 EUR
      | price    | outcome                                                                        |
      | 62,047.9 | the bot has sold the whole position with a limit sell at the bid, 62,047.8 EUR |
      | 62,047.8 | the bot still holds the position and sent no order                             |
