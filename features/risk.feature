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

  @safety @blocker @allure.label.story:daily-trades
  Scenario: A bot whose records were lost starts halted and counts today's trades from the exchange
    Given the bot has made 3 trades today
    And the bot's records have been lost
    When the bot starts again
    Then the bot is halted until the operator resumes, because its records were lost
    And the bot counts 3 trades today

  @safety @blocker @allure.label.story:daily-trades
  Scenario: A bot whose records were lost counts every trade of a busy day from the exchange, not only the latest 50
    The exchange lists an account's closed orders 50 at a time: the bot reads on to the last of today's.

    Given the bot's risk limits are:
      | limit          | value |
      | trades per day | 60    |
    And the bot has made 51 trades today
    And the bot's records have been lost
    When the bot starts again
    Then the bot counts 51 trades today

  @safety @blocker @allure.label.story:daily-trades
  Scenario: A bot whose records were lost counts its orders still resting from today as today's trades, not those from yesterday
    Given the bot placed a limit buy of 0.001 XBT resting at 59,000 EUR yesterday
    And the bot has made 2 trades today
    And the bot has a limit buy of 0.001 XBT resting at 59,000 EUR
    And the bot's records have been lost
    When the bot starts again
    Then the bot counts 3 trades today

  @safety @blocker @allure.label.story:daily-trades
  Scenario: Lost records do not reopen the daily trade allowance once the operator resumes
    Given the bot has made 3 trades today
    And the bot's records have been lost
    And the bot has started again
    And the operator has resumed trading
    When the bot asks to buy 0.001 XBT at market
    Then the order is refused for reason DAILY_TRADE_LIMIT
    And the exchange received no order for it

  @safety @blocker @allure.label.story:position-size
  Scenario: Lost records halt the bot even when its last purchase was yesterday, so the position limit cannot reopen
    Given the bot holds 0.04 XBT it bought yesterday
    And the bot's records have been lost
    And the bot has started again
    When the bot asks to buy 0.04 XBT at market
    Then the order is refused for reason HALTED
    And the exchange received no order for it

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
    And the audit trail records the refusal by the risk limits, naming LEVERAGE_NOT_ALLOWED

  @safety @critical @allure.label.story:leverage
  Scenario: An order at 1 times leverage borrows nothing and is an ordinary spot order
    When the bot asks to buy 0.01 XBT at market with 1 times leverage
    Then the order is accepted

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

  @safety @critical @allure.label.story:price-collar
  Scenario Outline: A stop or take-profit already on the wrong side of the market would fire at once and is refused
    When the bot asks to place a <kind> <side> of 0.01 XBT triggered at <trigger> EUR
    Then the order is <outcome>
    And no other limit refused it

    Examples: The market is at 60,000 EUR
      | kind        | side | trigger | outcome                         |
      | stop-loss   | sell | 59,000  | accepted                        |
      | stop-loss   | sell | 60,000  | refused for reason PRICE_COLLAR |
      | stop-loss   | sell | 61,000  | refused for reason PRICE_COLLAR |
      | take-profit | sell | 61,000  | accepted                        |
      | take-profit | sell | 60,000  | refused for reason PRICE_COLLAR |
      | take-profit | sell | 59,000  | refused for reason PRICE_COLLAR |
      | stop-loss   | buy  | 61,000  | accepted                        |
      | stop-loss   | buy  | 59,000  | refused for reason PRICE_COLLAR |
      | take-profit | buy  | 59,000  | accepted                        |
      | take-profit | buy  | 61,000  | refused for reason PRICE_COLLAR |

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

  @safety @critical @fault-injection @allure.label.story:price-collar
  Scenario: A market order larger than the whole book shown is refused: its fill price is unknown
    The exchange shows 500 price levels of 0.0001 XBT: 0.05 XBT in all, every level within 5% of the market.

    Given the bot's risk limits are:
      | limit                   | value |
      | largest position in XBT | 1     |
    And the exchange offers only 0.0001 XBT at each price level
    When the bot asks to buy 0.05000001 XBT at market
    Then the order is refused for reason PRICE_COLLAR
    And no other limit refused it
    And the refusal says the book shown cannot fill the order
    And the exchange received no order for it

  @safety @critical @fault-injection @allure.label.story:price-collar
  Scenario: A market buy is priced from the offers to sell, however deep the bids are
    The offers hold 0.05 XBT in all; a large bid resting below the market does not make them deeper.

    Given the bot's risk limits are:
      | limit                   | value |
      | largest position in XBT | 1     |
    And the exchange offers only 0.0001 XBT at each price level
    And someone placed a limit buy of 0.05 XBT at 59,500 EUR on the account by hand
    When the bot asks to buy 0.06 XBT at market
    Then the order is refused for reason PRICE_COLLAR
    And the refusal says the book shown cannot fill the order
    And the exchange received no order for it

  @safety @critical @allure.label.story:position-size
  Scenario Outline: Coins the bot already holds count towards the largest position
    Given the bot holds 0.03 XBT it bought earlier today
    When the bot asks to buy <volume> XBT at market
    Then the order is <outcome>
    And no other limit refused it

    Examples:
      | volume     | outcome                         |
      | 0.02       | accepted                        |
      | 0.02000001 | refused for reason MAX_POSITION |

  @safety @critical @allure.label.story:position-size
  Scenario Outline: A resting buy counts towards the largest position
    Given the bot has a limit buy of 0.03 XBT resting at 59,000 EUR
    When the bot asks to buy <volume> XBT at market
    Then the order is <outcome>
    And no other limit refused it

    Examples:
      | volume     | outcome                         |
      | 0.02       | accepted                        |
      | 0.02000001 | refused for reason MAX_POSITION |

  @safety @critical @allure.label.story:position-size
  Scenario Outline: The largest position as a share of the portfolio
    Given the account holds only 100 EUR
    And the price of XBT/EUR is 50,000 EUR
    And the bot's risk limits are:
      | limit                                | value |
      | largest position, % of the portfolio | 20    |
    When the bot asks to buy <volume> XBT at market
    Then the order is <outcome>
    And no other limit refused it

    Examples: 20% of 100 EUR is 0.0004 XBT
      | volume     | outcome                             |
      | 0.0004     | accepted                            |
      | 0.00040001 | refused for reason MAX_POSITION_PCT |

  @safety @critical @allure.label.story:position-size
  Scenario Outline: A resting buy counts towards the position's share of the portfolio
    Given the account holds only 100 EUR
    And the price of XBT/EUR is 50,000 EUR
    And the bot's risk limits are:
      | limit                                | value |
      | largest position, % of the portfolio | 20    |
    And the bot has a limit buy of 0.0002 XBT resting at 49,000 EUR
    When the bot asks to buy <volume> XBT at market
    Then the order is <outcome>
    And no other limit refused it

    Examples: 20% of 100 EUR is 0.0004 XBT
      | volume     | outcome                             |
      | 0.0002     | accepted                            |
      | 0.00020001 | refused for reason MAX_POSITION_PCT |

  @safety @critical @allure.label.story:position-size
  Scenario Outline: Coins the bot holds count towards the position's share of the portfolio
    Given the account holds only 100 EUR
    And the price of XBT/EUR is 50,000 EUR
    And the bot's risk limits are:
      | limit                                | value |
      | largest position, % of the portfolio | 20    |
    And the bot holds 0.0002 XBT it bought earlier today
    When the bot asks to buy <volume> XBT at market
    Then the order is <outcome>
    And no other limit refused it

    Examples: 20% of a portfolio that fees brought just under 100 EUR is just under 0.0004 XBT
      | volume  | outcome                             |
      | 0.00019 | accepted                            |
      | 0.0002  | refused for reason MAX_POSITION_PCT |

  @safety @critical @allure.label.story:order-size
  Scenario Outline: Each order-size limit the operator sets takes effect at its exact value
    Given the bot's risk limits are:
      | limit   | value   |
      | <limit> | <value> |
    And the price of XBT/EUR is <price> EUR
    When the bot asks to buy <volume> XBT at market
    Then the order is <outcome>
    And no other limit refused it

    Examples: Largest order value
      | limit                | value | price  | volume     | outcome                         |
      | largest order in EUR | 600   | 60,000 | 0.01       | accepted                        |
      | largest order in EUR | 600   | 60,000 | 0.01000001 | refused for reason MAX_NOTIONAL |

    Examples: Smallest order volume, above the exchange's own minimum
      | limit                 | value | price  | volume     | outcome                             |
      | smallest order in XBT | 0.001 | 60,000 | 0.001      | accepted                            |
      | smallest order in XBT | 0.001 | 60,000 | 0.00099999 | refused for reason BELOW_MIN_VOLUME |

    Examples: Smallest order value
      | limit                 | value | price  | volume     | outcome                               |
      | smallest order in EUR | 20    | 50,000 | 0.0004     | accepted                              |
      | smallest order in EUR | 20    | 50,000 | 0.00039999 | refused for reason BELOW_MIN_NOTIONAL |

    Examples: The exchange's own smallest order value, 0.5 EUR, with the bot's own set to nothing
      | limit                 | value | price | volume     | outcome                                   |
      | smallest order in EUR | 0     | 5,000 | 0.0001     | accepted                                  |
      | smallest order in EUR | 0     | 5,000 | 0.00009999 | refused for reason BELOW_EXCHANGE_MINIMUM |

  @safety @blocker @allure.label.story:order-size
  Scenario Outline: Selling what the bot holds is not held back by the largest order value
    Given the bot's risk limits are:
      | limit                | value |
      | largest order in EUR | 600   |
      | trades per day       | 50    |
    And the bot holds 0.02 XBT it bought in 2 orders earlier today
    When the bot asks to <side> <volume> XBT at market
    Then the order is <outcome>
    And no other limit refused it

    Examples: 0.02 XBT is worth 1,200 EUR
      | side | volume     | outcome                         |
      | sell | 0.02       | accepted                        |
      | sell | 0.02000001 | refused for reason MAX_NOTIONAL |

    Examples: Buying more is held back, however much the bot holds
      | side | volume     | outcome                         |
      | buy  | 0.01000001 | refused for reason MAX_NOTIONAL |

  @safety @critical @allure.label.story:open-orders
  Scenario Outline: No more orders rest on the exchange than the limit allows
    Given the bot's risk limits are:
      | limit          | value |
      | open orders    | 2     |
      | trades per day | 50    |
    And the bot has <resting> limit buys of 0.001 XBT resting at 59,000 EUR
    When the bot asks to buy 0.001 XBT at a limit of 59,000 EUR
    Then the order is <outcome>
    And no other limit refused it

    Examples:
      | resting | outcome                            |
      | 1       | accepted                           |
      | 2       | refused for reason MAX_OPEN_ORDERS |

  @safety @blocker @allure.label.story:daily-loss
  Scenario Outline: New buying stops once the day's realised loss, fees included, reaches the limit
    Given the bot's risk limits are:
      | limit                       | value   |
      | trades per day              | 50      |
      | largest loss per day in EUR | <limit> |
    And the bot bought 0.01 XBT with the price at 60,000 EUR and sold it at 59,000 EUR, a loss of 14.762 EUR after 4.76 EUR in fees
    When the bot asks to buy 0.001 XBT at market
    Then the order is <outcome>
    And no other limit refused it

    Examples:
      | limit  | outcome                             |
      | 14.763 | accepted                            |
      | 14.762 | refused for reason DAILY_LOSS_LIMIT |

  @safety @blocker @allure.label.story:daily-loss
  Scenario: A loss on coins whose purchase the bot learnt of only after selling them still counts towards the daily loss limit
    The resting buy fills at 59,000 EUR unseen; the bot sells at 58,000 EUR, then finds the earlier purchase:
    about 10 EUR lost plus fees, on the day.

    Given the bot's risk limits are:
      | limit                       | value |
      | trades per day              | 50    |
      | largest loss per day in EUR | 10    |
    And the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the price of XBT/EUR has fallen to 58,000 EUR
    And a minute later the bot has sold 0.01 XBT at market, before learning that its buy was filled
    And the bot's status showed no loss today
    And the bot has refreshed its orders since
    When the bot asks to buy 0.001 XBT at market
    Then the order is refused for reason DAILY_LOSS_LIMIT

  @safety @critical @fault-injection @allure.label.story:daily-loss
  Scenario Outline: While a sale's trade cannot be read, the bot buys nothing more; its sale of what it still holds goes out
    A sale whose trade the bot could not read may have lost money: until the bot has read it, today's loss
    is unknown and the daily loss limit cannot be kept, and the bot's records still show the coins sold.
    Nothing that adds exposure leaves the bot, on any pair; selling what it still holds does.

    Given the bot's risk limits are:
      | limit                | value |
      | trades per day       | 50    |
      | largest order in EUR | 2,000 |
    And the bot holds 0.02 XBT it bought earlier today
    And the bot has a limit sell of 0.01 XBT resting at 61,000 EUR
    And the market will rise through that price just as the bot's cancel reaches the exchange
    And the exchange cannot show the account's trades until it recovers
    And the bot has cancelled that order too late: the exchange had filled it, and the bot could not read its trade
    And two minutes have passed, the exchange still unable to show the account's trades
    When the bot asks to <side> <volume> XBT at a limit of <price> EUR
    Then the order is <outcome>
    And no other limit refused it
    When the bot runs its next trading cycle a minute later, the exchange having recovered
    Then the bot's own records show that sale, as on the exchange, and the 0.01 XBT the bot still holds

    Examples:
      | side | volume | price  | outcome                       |
      | buy  | 0.001  | 61,900 | refused for reason FILLS_OWED |
      | sell | 0.02   | 62,100 | refused for reason FILLS_OWED |
      | sell | 0.01   | 62,100 | accepted                      |

  @safety @blocker @allure.label.story:daily-loss
  Scenario: A profit does not count towards the daily loss limit
    Given the bot's risk limits are:
      | limit                       | value |
      | trades per day              | 50    |
      | largest loss per day in EUR | 1     |
    And the bot bought 0.01 XBT with the price at 60,000 EUR and sold it at 61,000 EUR, a profit of 5.158 EUR after 4.84 EUR in fees
    When the bot asks to buy 0.001 XBT at market
    Then the order is accepted

  @safety @blocker @allure.label.story:daily-loss
  Scenario: The daily loss limit starts again the next day
    Yesterday's loss stopped yesterday's buying; it does not count against today's limit.

    Given the bot's risk limits are:
      | limit                       | value  |
      | trades per day              | 50     |
      | largest loss per day in EUR | 14.762 |
    And the bot bought 0.01 XBT with the price at 60,000 EUR and sold it at 59,000 EUR, a loss of 14.762 EUR after 4.76 EUR in fees
    And the bot's next buy that day, of 0.001 XBT at market, was refused for reason DAILY_LOSS_LIMIT
    And the next day has begun
    When the bot asks to buy 0.001 XBT at market
    Then the order is accepted

  @safety @blocker @allure.label.story:daily-loss
  Scenario Outline: Selling what the bot holds stays allowed once the daily loss limit is reached
    Given the bot's risk limits are:
      | limit                       | value  |
      | trades per day              | 50     |
      | largest loss per day in EUR | 14.762 |
    And the bot holds 0.01 XBT it bought earlier today
    And the bot bought 0.01 XBT with the price at 60,000 EUR and sold it at 59,000 EUR, a loss of 14.762 EUR after 4.76 EUR in fees
    When the bot asks to sell <volume> XBT at market
    Then the order is accepted

    Examples: All of it, or part of it
      | volume |
      | 0.01   |
      | 0.004  |

  @safety @critical @allure.label.story:documented-defaults
  Scenario Outline: With no limits configured, an order keeps to the documented defaults
    Given the operator configured no risk limits
    And the price of XBT/EUR is <price> EUR
    When the bot asks to buy <volume> XBT at market
    Then the order is <outcome>

    Examples: Largest order 100 EUR
      | price  | volume     | outcome                         |
      | 50,000 | 0.002      | accepted                        |
      | 50,000 | 0.00200001 | refused for reason MAX_NOTIONAL |

    Examples: Largest position 0.01 XBT (at 5,000 EUR, so the largest order value is not in the way)
      | price | volume     | outcome                         |
      | 5,000 | 0.01       | accepted                        |
      | 5,000 | 0.01000001 | refused for reason MAX_POSITION |

    Examples: Smallest order 0.00005 XBT (at 200,000 EUR, so it is worth more than 5 EUR)
      | price   | volume     | outcome                             |
      | 200,000 | 0.00005    | accepted                            |
      | 200,000 | 0.00004999 | refused for reason BELOW_MIN_VOLUME |

    Examples: Smallest order 5 EUR
      | price  | volume     | outcome                               |
      | 50,000 | 0.0001     | accepted                              |
      | 50,000 | 0.00009999 | refused for reason BELOW_MIN_NOTIONAL |

  @safety @critical @allure.label.story:documented-defaults
  Scenario Outline: With no limits configured, a limit price stays within 2% of the market
    Given the operator configured no risk limits
    When the bot asks to buy 0.001 XBT at a limit of <price> EUR
    Then the order is <outcome>

    Examples: 2% above 60,000 EUR is 61,200 EUR
      | price    | outcome                         |
      | 61,200   | accepted                        |
      | 61,200.1 | refused for reason PRICE_COLLAR |

  @safety @critical @allure.label.story:documented-defaults
  Scenario Outline: With no limits configured, a position is at most half the portfolio
    Given the operator configured no risk limits
    And the account holds only 100 EUR
    And the price of XBT/EUR is 50,000 EUR
    When the bot asks to buy <volume> XBT at market
    Then the order is <outcome>

    Examples: Half of 100 EUR is 0.001 XBT
      | volume     | outcome                             |
      | 0.001      | accepted                            |
      | 0.00100001 | refused for reason MAX_POSITION_PCT |

  @safety @blocker @allure.label.story:documented-defaults
  Scenario: With no limits configured, the bot makes 20 trades a day and no more
    Given the operator configured no risk limits
    And the bot has made 20 trades today
    When the bot asks to buy 0.0001 XBT at market
    Then the order is refused for reason DAILY_TRADE_LIMIT

  @safety @critical @allure.label.story:documented-defaults
  Scenario: With no limits configured, 5 orders may rest on the exchange and no more
    Given the operator configured no risk limits
    And the bot has 5 limit buys of 0.001 XBT resting at 59,000 EUR
    When the bot asks to buy 0.001 XBT at a limit of 59,000 EUR
    Then the order is refused for reason MAX_OPEN_ORDERS

  @safety @blocker @allure.label.story:documented-defaults
  Scenario Outline: With no limits configured, new buying stops after a day's loss of 50 EUR
    Given the operator configured no risk limits
    And the bot bought 0.001 XBT with the price at 60,000 EUR and sold it at <sold> EUR, a loss of <loss> EUR after <fees> EUR in fees
    When the bot asks to buy 0.001 XBT at market
    Then the order is <outcome>

    Examples:
      | sold   | loss    | fees   | outcome                             |
      | 10,300 | 49.9814 | 0.2812 | accepted                            |
      | 10,200 | 50.0810 | 0.2808 | refused for reason DAILY_LOSS_LIMIT |

  @safety @critical @allure.label.story:position-size
  Scenario Outline: Coins of another asset count at their value in XBT towards the largest position
    The largest position in XBT is the bot's whole allocation, measured in XBT: at 3,000 EUR
    for one ETH and 60,000 EUR for one XBT, 1 ETH is worth 0.05 XBT.

    Given the price of ETH/EUR is 3,000 EUR
    When the bot asks to buy <volume> ETH at market
    Then the order is <outcome>
    And no other limit refused it

    Examples:
      | volume     | outcome                         |
      | 1          | accepted                        |
      | 1.00000001 | refused for reason MAX_POSITION |

  @safety @critical @allure.label.story:position-size
  Scenario Outline: XBT the bot holds and another asset share the one allocation
    Given the bot holds 0.03 XBT it bought earlier today
    And the price of ETH/EUR is 3,000 EUR
    When the bot asks to buy <volume> ETH at market
    Then the order is <outcome>
    And no other limit refused it

    Examples: 0.03 XBT held leaves 0.02 XBT, worth 0.4 ETH
      | volume     | outcome                         |
      | 0.4        | accepted                        |
      | 0.40000001 | refused for reason MAX_POSITION |

  @safety @critical @allure.label.story:position-size
  Scenario Outline: A buy waiting on another asset's book shares the one allocation
    Given the price of ETH/EUR is 3,000 EUR
    And the bot has a limit buy of 0.4 ETH resting at 2,900 EUR
    When the bot asks to buy <volume> XBT at market
    Then the order is <outcome>
    And no other limit refused it

    Examples: 0.4 ETH bid for is worth 0.02 XBT, which leaves 0.03 XBT
      | volume     | outcome                         |
      | 0.03       | accepted                        |
      | 0.03000001 | refused for reason MAX_POSITION |

  @safety @critical @allure.label.story:position-size
  Scenario Outline: A buy waiting on XBT's book counts once, at its value, towards a purchase of another asset
    The resting XBT buy is part of the one allocation; it is not also taken for ETH the bot is buying.

    Given the bot has a limit buy of 0.03 XBT resting at 59,000 EUR
    And the price of ETH/EUR is 3,000 EUR
    When the bot asks to buy <volume> ETH at market
    Then the order is <outcome>
    And no other limit refused it

    Examples: 0.03 XBT bid for leaves 0.02 XBT, worth 0.4 ETH
      | volume     | outcome                         |
      | 0.4        | accepted                        |
      | 0.40000001 | refused for reason MAX_POSITION |

  @safety @blocker @allure.label.story:funds
  Scenario Outline: A buy must leave room for the exchange's fee in the money the account holds
    Given the account holds only 50.2 EUR
    And the price of XBT/EUR is 50,000 EUR
    When the bot asks to buy <volume> XBT at a limit of 50,000 EUR
    Then the order is <outcome>
    And no other limit refused it

    Examples: 0.001 XBT costs 50 EUR plus the 0.4% fee: 50.2 EUR
      | volume     | outcome                                 |
      | 0.001      | accepted                                |
      | 0.00100001 | refused for reason INSUFFICIENT_BALANCE |

  @safety @blocker @allure.label.story:funds
  Scenario: An account holding nothing cannot buy, and the refusal says why
    Given the account holds only 0 EUR
    When the bot asks to buy 0.001 XBT at a limit of 60,000 EUR
    Then the order is refused for reason INSUFFICIENT_BALANCE
    And no other limit refused it
    And the exchange received no order for it

  @safety @blocker @allure.label.story:funds
  Scenario Outline: A sell cannot be larger than the coins the account holds
    Given the account holds only 0.001 XBT
    When the bot asks to sell <volume> XBT at a limit of 60,000 EUR
    Then the order is <outcome>
    And no other limit refused it

    Examples:
      | volume     | outcome                                 |
      | 0.001      | accepted                                |
      | 0.00100001 | refused for reason INSUFFICIENT_BALANCE |

  @safety @blocker @allure.label.story:daily-loss
  Scenario Outline: Selling part of a position realises the loss on that part at the average price paid
    Given the bot's risk limits are:
      | limit                       | value   |
      | trades per day              | 50      |
      | largest loss per day in EUR | <limit> |
    And the bot bought 0.02 XBT with the price at 60,000 EUR and sold half of it at 59,000 EUR, a loss of 14.762 EUR on the half sold, fees included
    When the bot asks to buy 0.001 XBT at market
    Then the order is <outcome>
    And no other limit refused it

    Examples:
      | limit  | outcome                             |
      | 14.763 | accepted                            |
      | 14.762 | refused for reason DAILY_LOSS_LIMIT |

  @safety @blocker @allure.label.story:configuration
  Scenario Outline: A risk limit the bot cannot enforce stops it before it trades
    When the operator starts the bot with the limit "<limit>" set to <value>
    Then the bot refuses to start with a one-line configuration error about that limit, saying it <rule>

    Examples:
      | limit                                | value  | rule            |
      | largest order in EUR                 | 0      | must be > 0     |
      | smallest order in EUR                | -0.01  | must be >= 0    |
      | price distance from market, %        | 100.01 | must be <= 100  |
      | trades per day                       | 0      | must be >= 1    |
      | largest position in XBT              | 1O     | must be a decimal number |

  @safety @blocker @allure.label.story:configuration
  Scenario: A misspelt limit stops the bot before it trades, instead of leaving the limit at its default
    When the operator starts the bot with MAX_ORDER_EURO=600 in its environment, a misspelling
    Then the bot refuses to start with a one-line configuration error about it, saying did you mean MAX_ORDER_EUR?

  @safety @critical @fault-injection @allure.label.story:stale-data
  Scenario Outline: A price exactly as old as the limit is still traded on, one a second older is not
    Given the bot read the price of XBT/EUR <age> seconds ago, and the exchange has not answered a price request since
    When the bot asks to buy 0.001 XBT at a limit of 59,900 EUR
    Then the order is <outcome>

    Examples: Prices may be 30 seconds old
      | age | outcome                              |
      | 30  | accepted                             |
      | 31  | refused for reason STALE_MARKET_DATA |

  @safety @critical @allure.label.story:pair-rules
  Scenario: An order for a coin the exchange does not list is refused, and nothing is sent
    Without the pair's trading rules (minimums, decimals) the bot cannot check the order.

    When the bot asks to buy 100 DOGE, a coin the exchange does not list, at market
    Then the order is refused for reason EXCHANGE_ERROR
    And the exchange received no order for it
