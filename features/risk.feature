@risk @allure.label.epic:Protection
Feature: Risk limits
  Every order passes the bot's risk checks before the exchange sees it. A refused order
  never leaves the bot, and the refusal names the rule that stopped it.
  Against the simulated exchange, live mode moves no real money.

  Background:
    Given the bot is connected to the exchange in live mode
    And the price of XBT/EUR is 60,000 EUR
    And the bot's risk limits are:
      | limit                         | value  |
      | largest position in XBT       | 0.05   |
      | trades per day                | 3      |
      | price distance from market, % | 5      |

  @safety @critical @allure.label.story:position-size
  Scenario Outline: Orders that would make the position too large are refused
    When the bot asks to buy <volume> XBT at market
    Then the order is <outcome>

    Examples: Within the limit
      | volume | outcome  |
      | 0.04   | accepted |
      | 0.05   | accepted |

    Examples: Above the limit
      | volume | outcome                           |
      | 0.051  | refused for reason MAX_POSITION   |
      | 0.2    | refused for reason MAX_POSITION   |

  @safety @blocker @allure.label.story:daily-trades
  Scenario: The trade after the daily allowance is refused
    Given the bot has made 3 trades today
    When the bot asks to buy 0.001 XBT at market
    Then the order is refused for reason DAILY_TRADE_LIMIT
    And the exchange received no order for it

  @safety @blocker @allure.label.story:daily-trades
  Scenario: A restart does not reset the daily trade allowance
    Given the bot has made 3 trades today
    And the bot has been restarted since
    When the bot asks to buy 0.001 XBT at market
    Then the order is refused for reason DAILY_TRADE_LIMIT

  @safety @critical @allure.label.story:daily-trades
  Scenario: The daily trade allowance starts again the next day
    Given the bot made 3 trades yesterday
    When the bot asks to buy 0.001 XBT at market
    Then the order is accepted

  @safety @blocker @allure.label.story:leverage
  Scenario: An order on borrowed money is refused
    When the bot asks to buy 0.01 XBT at market with 2 times leverage
    Then the order is refused for reason LEVERAGE_NOT_ALLOWED
    And the exchange received no order for it

  @safety @critical @allure.label.story:sizing
  Scenario: The bot sizes a position so that a typical adverse move risks a set share of equity
    When the bot sizes a buy of XBT/EUR in a market moving about 10% per candle
    Then a move of 2 typical swings against the position would cost at most 1% of the equity
    And the proposed size is within the largest position allowed

  @safety @critical @allure.label.story:sizing
  Scenario: The bot proposes smaller positions when the market is more volatile
    When the bot sizes a buy of XBT/EUR in a market moving 10% per candle and in one moving 20% per candle
    Then the size proposed in the market moving more is smaller

  @safety @critical @allure.label.story:exchange-minimums
  Scenario Outline: Orders below the minimums are refused before they are sent
    When the bot asks to buy <volume> XBT at a limit of <price> EUR
    Then the order is refused for reason <reason>
    And the exchange received no order for it

    Examples: Below the exchange's minimum volume
      | volume  | price  | reason                 |
      | 0.00001 | 59,900 | BELOW_EXCHANGE_MINIMUM |
      | 0.00004 | 59,900 | BELOW_EXCHANGE_MINIMUM |

    Examples: Below the bot's own minimum order value
      | volume  | price  | reason             |
      | 0.00006 | 59,900 | BELOW_MIN_NOTIONAL |

  @safety @critical @allure.label.story:price-collar
  Scenario Outline: A limit price too far from the market is refused
    When the bot asks to <side> 0.01 XBT at a limit of <price> EUR
    Then the order is refused for reason PRICE_COLLAR
    And the exchange received no order for it

    Examples: Too far from the market
      | side | price  |
      | buy  | 66,000 |
      | sell | 54,000 |

  @safety @critical @fault-injection @allure.label.story:price-collar
  Scenario: A market order that would fill far from the market price is refused
    Given the bot's risk limits are:
      | limit                         | value |
      | price distance from market, % | 1     |
    And the exchange offers only 0.0001 XBT at each price level
    When the bot asks to buy 0.02 XBT at market
    Then the order is refused for reason PRICE_COLLAR
    And the refusal names the price the order would have filled at
    And the exchange received no order for it
