@orders @allure.label.epic:Trading
Feature: Placing and managing orders
  The bot buys, sells and cancels on the exchange and keeps its own record of every
  order, from the moment it is sent until it is filled or cancelled.
  Against the simulated exchange, live mode moves no real money.

  Background:
    Given the bot is connected to the exchange in live mode
    And the price of XBT/EUR is 60,000 EUR

  @normal @allure.label.story:market-orders
  Scenario: A market buy is filled and the balances move by the cost and the fee
    When the bot buys 0.01 XBT at market
    Then the order is filled
    And the account holds 1.01 XBT
    And the euro balance fell by the order's cost plus its fee

  @normal @allure.label.story:limit-orders
  Scenario: A limit sell above the market rests on the exchange
    When the bot places a limit sell of 0.01 XBT at 61,000 EUR
    Then the order is open on the exchange
    And the order is among the bot's open orders

  @normal @allure.label.story:cancel
  Scenario: A resting order is cancelled
    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    When the bot cancels that order
    Then the order is cancelled on the exchange
    And the bot records the order as cancelled
    And no euro is held for it any more

  @safety @critical @fault-injection @allure.label.story:cancel
  Scenario: A cancel the exchange fails to carry out leaves the order open in the bot's books
    The bot's records must say what the exchange holds: an order whose cancel failed is still
    open, and still counts against every limit.

    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the exchange will fail the next cancel, being unavailable for a moment
    When the bot cancels that order
    Then the bot reports the order as not cancelled, giving the exchange's reason
    And the order is open on the exchange
    And the bot records the order as open, as the exchange holds it

  @safety @critical @allure.label.story:cancel
  Scenario: A cancel naming an order the bot never placed is refused, not reported as done
    A reference the bot has no record of (mistyped, or another bot's order) names nothing it may
    cancel: it says so, and sends the exchange nothing, so no one takes an order for cancelled.

    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    When the bot is asked to cancel an order it has no record of
    Then the cancel is refused for reason INVALID_ORDER
    And the exchange received no request to cancel it
    And the order is open on the exchange

  @safety @critical @fault-injection @allure.label.story:cancel
  Scenario: An order filled while its cancel was on its way, whose trade could not be read at that moment, is recorded with its fill at the bot's next look
    The bot's positions, its profit and loss and its daily loss limit are its trades. An order the exchange
    filled just before the cancel reached it holds a trade even when the exchange could not show it then:
    the running bot reads it again at its next look, records it once, and says so.

    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the market will fall through that price just as the bot's cancel reaches the exchange
    And the exchange cannot show the account's trades until it recovers
    When the bot cancels that order
    Then the bot reports the order as not cancelled: the exchange had filled it
    And the bot's records do not hold that order's trade yet
    When the bot runs its next trading cycle a minute later, the exchange having recovered
    Then the bot's own records show the 0.01 XBT bought, as on the exchange
    And the bot's audit trail says that order's missing trade was recorded

  @normal @allure.label.story:open-orders
  Scenario: The bot's open orders are the exchange's open orders
    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the bot has a limit sell of 0.01 XBT resting at 61,000 EUR
    When the bot refreshes its orders
    Then the bot's open orders are exactly the exchange's open orders

  @safety @critical @fault-injection @allure.label.story:partial-fills
  Scenario: Each part of a partly filled order is recorded as it comes, and the order stays open until the last
    Given the exchange offers only 0.005 XBT at each price level
    And the bot has a limit buy of 0.02 XBT resting at 59,000 EUR
    When the market dips to 58,900 EUR and recovers 4 times, the bot following its orders after each dip
    Then the order is filled in more than one part
    And after each dip the bot's record showed the volume the exchange had filled, each part as its own fill
    And the bot kept the order open until its last part was filled
    And after each dip the bot's reconciliation with the exchange found no difference
    And the bot's audit trail shows the order's statuses in turn, each change once: open, partially filled and filled

  @safety @critical @allure.label.story:partial-fills
  Scenario: A market buy filled in 25 parts at once has each of its 25 trades in the bot's records
    The exchange tells at most 20 trades in one answer: the bot asks for an order's trades 20 at a time.

    Given the exchange offers only 0.0004 XBT at each price level
    When the bot buys 0.01 XBT at market
    Then the exchange filled the order in 25 trades
    And the bot's own records show the 0.01 XBT bought, as on the exchange

  @safety @critical @fault-injection @allure.label.story:open-orders
  Scenario: An order cancelled at the exchange behind the bot's back is reported at the next reconciliation
    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And someone cancelled that order by hand at the exchange
    When the bot reconciles with the exchange
    Then a discrepancy is reported for that order: open for the bot, cancelled at the exchange

  @safety @critical @fault-injection @allure.label.story:partial-fills
  Scenario: An order partly filled since the bot last looked is reported at the next reconciliation
    Given the exchange offers only 0.005 XBT at each price level
    And the bot has a limit buy of 0.02 XBT resting at 59,000 EUR
    And the market has dipped to 58,900 EUR and recovered, the bot not looking
    When the bot reconciles with the exchange
    Then a discrepancy is reported for that order: open for the bot, partially filled at the exchange

  @safety @blocker @fault-injection @allure.label.story:open-orders
  Scenario: A trade made by hand before any order of the bot has filled shows in the balances it reconciles
    The balances the bot expects are those it saw before its first order plus its own trades; a trade
    by hand is a difference to report, not a new starting point.

    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And someone sold 0.01 XBT at market on the account by hand half a minute later
    When the bot reconciles with the exchange
    Then a discrepancy is reported for the trade the bot did not make
    And the balances of XBT and EUR are reported as differing from the bot's by that trade

  @normal @allure.label.story:fees
  Scenario Outline: The fee charged is the exchange's rate for how the order executed
    When the bot trades 0.01 XBT as <execution>
    Then the fee is <rate>% of the order's cost
    And the bot's record shows the same fee as the exchange

    Examples: Taker and maker rates
      | execution                          | rate |
      | a market buy                       | 0.40 |
      | a resting limit buy that is hit    | 0.25 |

  @safety @critical @allure.label.story:fees
  Scenario: A fee the exchange rounded to 4 decimals is not reported as a wrong fee
    The exchange rounds each euro fee to 4 decimals: 0.40% of 600.0124 EUR is 2.4000496 EUR, charged
    as 2.4000 EUR. That is the fee schedule kept, not broken.

    Given the bot has bought 0.01000019 XBT at market a moment ago
    When the bot reconciles with the exchange
    Then no discrepancy is reported

  @normal @allure.label.story:lifecycle
  Scenario: An order's status is tracked from submission until it is filled
    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    When the price of XBT/EUR falls to 58,900 EUR
    And the bot refreshes its orders
    Then the bot records the order as filled
    And the order went through the statuses open then filled

  @normal @allure.label.story:several-orders
  Scenario: Several orders placed at once are each placed exactly once
    When the bot places 5 limit buys of 0.001 XBT from 59,000 EUR downwards in steps of 100 EUR
    Then 5 orders are open on the exchange, each with its own client reference
    And each order was sent to the exchange exactly once

  @normal @allure.label.story:order-types
  Scenario Outline: The bot places the usual order types
    When the bot places <order>
    Then the order is accepted by the exchange

    Examples: Entry orders
      | order                                  |
      | a market buy of 0.01 XBT               |
      | a limit buy of 0.01 XBT at 59,500 EUR  |

    Examples: Exit orders
      | order                                  |
      | a market sell of 0.01 XBT              |
      | a limit sell of 0.01 XBT at 60,500 EUR |

  @safety @blocker @allure.label.story:canary
  Scenario Outline: In canary mode only the smallest post-only order, 10% or more from the market and worth 10 EUR or less, is sent
    Canary mode proves the whole path to the exchange with an order that cannot trade: the
    smallest volume allowed, resting on the side that waits, at least 10% from the market
    price, worth at most 10 EUR (the defaults). Anything else is refused before it is sent.

    Given the bot's risk limits are:
      | limit                 | value |
      | smallest order in EUR | 0     |
    And the operator has switched the bot to canary mode
    When the bot places <order>
    Then the order is <outcome>

    Examples: Canaries: 0.00005 XBT is the smallest volume the exchange takes
      | order                                                 | outcome                              |
      | a post-only limit buy of 0.00005 XBT at 54,000 EUR    | placed and cancelled at once         |
      | a post-only limit sell of 0.00005 XBT at 200,000 EUR  | placed and cancelled at once         |
      | a post-only limit buy of 0.00005 XBT at 29,000 EUR    | placed and cancelled at once         |

    Examples: Not canaries
      | order                                                 | outcome                              |
      | a post-only limit buy of 0.00005 XBT at 54,000.1 EUR  | refused for reason CANARY_RULES      |
      | a post-only limit sell of 0.00005 XBT at 65,999.9 EUR | refused for reason CANARY_RULES      |
      | a post-only limit buy of 0.0001 XBT at 54,000 EUR     | refused for reason CANARY_RULES      |
      | a post-only limit sell of 0.00005 XBT at 200,100 EUR  | refused for reason CANARY_RULES      |
      | a limit buy of 0.00005 XBT at 54,000 EUR              | refused for reason CANARY_RULES      |
      | a post-only market buy of 0.00005 XBT                 | refused for reason CANARY_RULES      |

  @safety @critical @allure.label.story:strategy
  Scenario Outline: With a buy every hour, the strategy buys again at the first cycle an hour after its last buy, not sooner
    Given the bot's risk limits are:
      | limit                                | value |
      | the strategy's buy interval, seconds | 3600  |
    And the bot has run one trading cycle at that price
    When the bot runs one trading cycle <minutes> minutes later
    Then the strategy has made <buys> at the asking price of 60,000.1 EUR

    Examples: The price stays at 60,000 EUR: no dip, only the hour
      | minutes | buys   |
      | 59      | 1 buy  |
      | 60      | 2 buys |

  @safety @blocker @allure.label.story:canary
  Scenario Outline: A canary rests on the first price at least 10% from the market, however the market price falls between ticks
    Prices move in steps of 0.10 EUR; 10% from 60,000.30 EUR falls between two of them, and the
    canary takes the one further from the market.

    Given the operator has switched the bot to canary mode
    And the price of XBT/EUR has moved to 60,000.3 EUR
    When the bot places its canary <side> order
    Then the order is placed and cancelled at once
    And the order was sent at <canary> EUR

    Examples: 10% from 60,000.30 EUR is 54,000.27 EUR below and 66,000.33 EUR above
      | side | canary   |
      | buy  | 54,000.2 |
      | sell | 66,000.4 |

  @safety @critical @allure.label.story:strategy
  Scenario Outline: The strategy buys 10 EUR of XBT once the asking price is 2% below where it started, not before
    The strategy's defaults: it takes the first market price it sees as its reference and buys
    10 EUR worth, at the asking price, once that price is 2% or more below it.

    Given the bot has run one trading cycle at that price
    And the price of XBT/EUR has fallen to <price> EUR
    When the bot runs its next trading cycle a minute later
    Then <orders>

    Examples: 2% below 60,000 EUR is an asking price of 58,800 EUR (the ask is 0.10 EUR above the price)
      | price    | orders                                                                        |
      | 58,799.9 | the bot's only order is a limit buy of 0.00017006 XBT at 58,800 EUR, worth 10 EUR |
      | 58,000   | the bot's only order is a limit buy of 0.00017241 XBT at 58,000.1 EUR, worth 10 EUR |
      | 58,800   | the bot has sent no order                                                     |

  @safety @blocker @fault-injection @allure.label.story:lost-confirmation
  Scenario: An order in doubt while the exchange cannot list its orders is found by the next refresh after it recovers
    An order whose confirmation was lost is looked up by its client reference, never sent again.
    While the lookup cannot be made the order stays in doubt; the bot's next refresh settles it.

    Given the exchange will take the next order but lose its confirmation
    And the exchange cannot list the account's orders until it recovers
    And the bot has placed a limit buy of 0.01 XBT at 59,000 EUR whose outcome it could not learn
    And the exchange has recovered
    And 30 seconds have passed since the circuit breaker opened
    When the bot refreshes its orders
    Then exactly 1 order is open on the exchange
    And the bot knows that order by its client reference
    And the exchange received that order exactly once

  @safety @blocker @fault-injection @allure.label.story:lost-confirmation
  Scenario: An order still in doubt when the bot stopped is settled at its next start, and the start says so
    The operator reads at start-up which orders were settled and which are still in doubt.

    Given the exchange will take the next order but lose its confirmation
    And the exchange cannot list the account's orders until it recovers
    And the bot has placed a limit buy of 0.01 XBT at 59,000 EUR whose outcome it could not learn
    And the exchange has recovered
    When the bot starts again
    Then the bot knows that order by its client reference
    And the bot's start-up names that order as settled, and no order as still in doubt

  @safety @blocker @fault-injection @allure.label.story:lost-confirmation
  Scenario: A market buy whose confirmation was lost is found filled among the closed orders, its trade recorded
    Given the exchange will take the next order but lose its confirmation
    When the bot buys 0.01 XBT at market
    Then the order is filled
    And the bot records the order as filled
    And the bot's record shows the same fee as the exchange
    And the bot's own records show the 0.01 XBT bought, as on the exchange
    And the exchange received that order exactly once

  @safety @blocker @fault-injection @allure.label.story:no-blind-retry
  Scenario: An order answered by an error page is settled as not placed, not mistaken for another order of the bot
    After the error page the bot looks its order up among all the account's orders, open and closed,
    by its client reference; the bot's other orders there are not it.

    Given the bot has bought 0.01 XBT at market a moment ago
    And the bot has a limit buy of 0.01 XBT resting at 58,000 EUR
    And the exchange will answer the next order with an error page
    When the bot places a limit buy of 0.01 XBT at 59,000 EUR
    Then the bot does not count the order as placed
    And the bot settled it as not placed only once its deadline of 15 seconds at the exchange had passed
    And the bot's open orders are exactly the exchange's open orders

  @safety @blocker @fault-injection @allure.label.story:no-blind-retry
  Scenario: An order in doubt is not mistaken for another of the bot's orders when the exchange ignores the client reference in its lookup
    An exchange may answer a look-up by client reference with all the account's orders; the bot
    checks each order's reference itself and takes none of its other orders for the one in doubt.

    Given the bot has bought 0.01 XBT at market a moment ago
    And the bot has a limit buy of 0.01 XBT resting at 58,000 EUR
    And the exchange will answer the next order with an error page
    And the exchange ignores the client reference when the bot looks its orders up
    When the bot places a limit buy of 0.01 XBT at 59,000 EUR
    Then the bot does not count the order as placed
    And the bot settled it as not placed only once its deadline of 15 seconds at the exchange had passed
    And the bot's open orders are exactly the exchange's open orders

  @safety @blocker @fault-injection @allure.label.story:lost-confirmation
  Scenario: An order in doubt that the exchange's look-up by client reference misses is found among its open orders, not taken for unplaced
    Before it settles an order in doubt as not placed, the bot reads all the account's orders, open and closed,
    for its client reference: a look-up that finds nothing is not proof enough.

    Given the exchange will take the next order but lose its confirmation
    And the exchange finds no order when the bot looks its orders up by client reference
    When the bot places a limit buy of 0.01 XBT at 59,000 EUR
    Then exactly 1 order is open on the exchange
    And the bot knows that order by its client reference
    And the exchange received that order exactly once

  @safety @blocker @fault-injection @allure.label.story:lost-confirmation
  Scenario: An order in doubt that 50 other orders closed after is found among the exchange's closed orders, not taken for unplaced
    The exchange lists the account's closed orders 50 at a time, newest first. Before it settles an order in
    doubt as not placed, the bot reads every page of the orders closed since a minute before it sent it.

    Given the exchange will take the next order but lose its confirmation
    And the exchange cannot list the account's orders until it recovers
    And the bot has placed a market buy of 0.01 XBT whose outcome it could not learn
    And someone has bought 0.001 XBT at market on the account by hand 50 times since
    And the exchange has recovered
    And the exchange finds no order when the bot looks its orders up by client reference
    When the bot refreshes its orders a minute later
    Then the bot records the order as filled
    And the bot's own records show the 0.01 XBT bought, as on the exchange
    And the exchange received that order exactly once

  @safety @critical @allure.label.story:trades
  Scenario: A trade made by hand just before the bot's first order is in its starting balances, not a difference
    The bot reads its own trades from a minute before its first order, as the exchange's clock may run a few
    seconds behind the bot's; someone else's trade in that minute came before the bot began, and the balances
    the bot started from already hold it.

    Given someone bought 0.01 XBT at market on the account by hand half a minute before the bot's first order
    And the bot has bought 0.01 XBT at market a moment ago
    When the bot reconciles with the exchange
    Then no discrepancy is reported
