@failsafe @allure.label.epic:Protection
Feature: Failing safe when the exchange misbehaves
  When the exchange is down, slow, busy or in maintenance, the bot stops trading instead
  of guessing, never sends an order twice, and an operator can stop it at any moment.
  Against the simulated exchange, live mode moves no real money.

  Background:
    Given the bot is connected to the exchange in live mode
    And the price of XBT/EUR is 60,000 EUR

  @safety @blocker @fault-injection @allure.label.story:circuit-breaker
  Scenario Outline: The circuit breaker opens at the 5th failed request, not at the 4th
    A read is tried up to three times, so failed requests are counted at the exchange, not reads.

    Given the exchange fails the next <failures> requests
    When the bot reads the price of XBT/EUR 2 times
    Then the exchange saw <failures> failed requests
    And the circuit breaker is <state>

    Examples: Failed requests in a row
      | failures | state  |
      | 4        | closed |
      | 5        | open   |

  @safety @blocker @fault-injection @allure.label.story:circuit-breaker
  Scenario Outline: Every way the exchange can fail counts towards the circuit breaker
    Given the exchange answers the next 5 requests with <failure>
    When the bot reads the price of XBT/EUR 2 times
    Then the circuit breaker is open
    And the exchange saw 5 requests in all

    Examples: Ways the exchange fails
      | failure                      |
      | an error page                |
      | a service-unavailable error  |
      | no answer in time            |
      | a dropped connection         |
      | a garbled answer             |

  @safety @blocker @fault-injection @allure.label.story:circuit-breaker
  Scenario Outline: The circuit breaker counts the failures of the last minute, not older ones
    It opens on the 5th failed request within 60 seconds; a failure a full minute old no
    longer counts.

    Given the exchange failed 4 of the bot's requests, the first of them <seconds> seconds ago
    When the exchange fails the bot's next request
    Then the circuit breaker is <state>

    Examples: Time since the first of the failures
      | seconds | state  |
      | 59      | open   |
      | 60      | closed |

  @safety @blocker @fault-injection @allure.label.story:circuit-breaker
  Scenario: While the circuit breaker is open the bot does not even read from the exchange
    Given the circuit breaker has opened after repeated failures
    And the exchange has recovered
    When the bot reads the price of XBT/EUR and the balances
    Then both reads are refused because the circuit breaker is open
    And the exchange received no request

  @safety @blocker @fault-injection @allure.label.story:circuit-breaker
  Scenario: While the circuit breaker is open no order reaches the exchange
    Given the circuit breaker has opened after repeated failures
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason CIRCUIT_OPEN
    And the exchange received no order for it

  @safety @blocker @fault-injection @allure.label.story:circuit-breaker
  Scenario Outline: The circuit breaker tries the exchange again 30 seconds after it opened, not sooner
    A failed trial opens it again at once: not even the read's own retry is sent.

    Given the circuit breaker has opened after repeated failures
    And <seconds> seconds have passed since the circuit breaker opened
    When the bot reads the price of XBT/EUR while the exchange is still failing
    Then the exchange saw <requests> requests in all
    And the circuit breaker is open

    Examples: Time since the circuit breaker opened
      | seconds | requests |
      | 29      | 0        |
      | 30      | 1        |

  @safety @blocker @fault-injection @allure.label.story:circuit-breaker
  Scenario: While its one trial request awaits the answer, the circuit breaker lets nothing else through
    Given the circuit breaker has opened after repeated failures
    And the exchange has recovered
    And 30 seconds have passed since the circuit breaker opened
    When the bot reads the price of XBT/EUR and, while the exchange is answering, reads the balances
    Then the balance read is refused because the circuit breaker is open
    And exactly 1 request reached the exchange, the trial

  @safety @blocker @fault-injection @allure.label.story:circuit-breaker
  Scenario: A read waiting for its turn is not sent once the circuit breaker has opened meanwhile
    A request decided on before the breaker opened does not go out once it is open: the breaker
    is asked again at the moment of sending, not only when the request was decided.

    Given the bot has just read the balances 14 times, its request allowance filled up to the reserve
    When the bot reads the balances and, while it waits for its turn, failing price reads open the circuit breaker
    Then the balance read is refused because the circuit breaker is open
    And no balance request reached the exchange

  @safety @critical @fault-injection @allure.label.story:circuit-breaker
  Scenario Outline: The circuit breaker closes again after 2 successful trial requests, not after 1
    Given the circuit breaker has opened after repeated failures
    And the exchange has recovered
    When the bot reads the price of XBT/EUR <reads>, a minute apart
    Then the circuit breaker is <state>

    Examples: Successful trials
      | reads | state                          |
      | once  | still trying the exchange      |
      | twice | closed                         |

  @safety @critical @fault-injection @allure.label.story:rate-limits
  Scenario: A rate-limit refusal is answered by waiting before trying again
    After a refusal the bot waits until the exchange's request counter has drained:
    15 requests at a third of a request a second on the account's tier, about 45 seconds.

    Given the exchange refuses the next 2 balance requests for exceeding the rate limit
    When the operator checks the connection
    Then the bot is reported as authenticated
    And the exchange saw the balance request 3 times, with a pause of at least 45 seconds before each repeat

  @safety @critical @allure.label.story:rate-limits
  Scenario: A burst of reads stays within the exchange's request allowance
    When the bot reads the balances 40 times in a row
    Then the exchange answered all 40 balance reads
    And the exchange never refused a request for exceeding the rate limit
    And the exchange's request counter never went above its maximum

  @safety @critical @allure.label.story:rate-limits
  Scenario: Price requests go out in a burst of at most 10, then one a second
    The exchange allows each address about one public request a second, with a short burst.

    Given the bot has sent no price request for a minute
    When the bot asks the exchange for the price of XBT/EUR 13 times in a row
    Then the exchange saw the first 10 price requests at once and each of the other 3 one second after the one before

  @safety @blocker @fault-injection @allure.label.story:market-status
  Scenario Outline: New orders are not placed while the exchange is not fully open
    Given the exchange is in <status> mode
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason MARKET_STATUS
    And the exchange received no order for it

    Examples: Exchange status
      | status      |
      | maintenance |
      | cancel-only |
      | post-only   |

  @safety @critical @fault-injection @allure.label.story:market-status
  Scenario: Orders can still be cancelled while the exchange only accepts cancellations
    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the exchange is in cancel-only mode
    When the bot cancels that order
    Then the order is cancelled on the exchange

  @safety @critical @fault-injection @allure.label.story:market-status
  Scenario: A post-only order is accepted while the exchange only accepts post-only orders
    Given the exchange is in post-only mode
    When the bot places a post-only limit buy of 0.01 XBT at 59,000 EUR
    Then the order is open on the exchange

  @safety @blocker @fault-injection @allure.label.story:market-status
  Scenario Outline: A market the exchange has restricted takes no order its restriction forbids
    Given the exchange has put XBT/EUR alone in <status> mode
    When the bot <asks for an order>
    Then the order is refused for reason PAIR_NOT_ALLOWED
    And the exchange received no order for it

    Examples: The exchange as a whole is online
      | status      | asks for an order                              |
      | cancel-only | asks to buy 0.001 XBT at a limit of 59,900 EUR |
      | limit-only  | asks to buy 0.001 XBT at market                |
      | post-only   | asks to buy 0.001 XBT at a limit of 59,900 EUR |

  @safety @critical @fault-injection @allure.label.story:market-status
  Scenario Outline: A market the exchange has restricted still takes the orders its restriction allows
    Given the exchange has put XBT/EUR alone in <status> mode
    When the bot <asks for an order>
    Then the order is accepted by the exchange

    Examples: The exchange as a whole is online
      | status     | asks for an order                                   |
      | limit-only | asks to buy 0.001 XBT at a limit of 59,900 EUR      |
      | post-only  | places a post-only limit buy of 0.001 XBT at 59,000 EUR |

  @safety @blocker @fault-injection @allure.label.story:stale-data
  Scenario: The bot does not trade on a stale price, even at a dip its strategy buys
    The strategy buys when the price is 2% or more below the price it last saw.

    Given the bot has run one trading cycle at that price
    And the price of XBT/EUR has fallen to 58,000 EUR and the bot read it a moment ago
    And the exchange stops answering price requests
    When the bot runs one trading cycle 5 minutes later
    Then the exchange received no order
    And the bot records that it skipped the trading cycle because its market data is stale

  @safety @blocker @allure.label.story:kill-switch
  Scenario: The kill switch cancels every open order
    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the bot has a limit sell of 0.01 XBT resting at 61,000 EUR
    When the operator pulls the kill switch
    Then no order is open on the exchange

  @safety @blocker @fault-injection @allure.label.story:kill-switch
  Scenario: The kill switch cancels every open order while the circuit breaker holds back requests
    The circuit breaker keeps new orders and reads from a failing exchange, never less
    exposure: the kill switch's cancel is tried whatever the breaker's state.

    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the circuit breaker has opened after repeated failures
    And the exchange has recovered
    When the operator pulls the kill switch
    Then no order is open on the exchange
    And the circuit breaker is open
    And after the circuit breaker's recovery wait the bot records every order as cancelled

  @safety @blocker @allure.label.story:kill-switch
  Scenario: After the kill switch no new order is placed until the operator resumes
    Given the operator has pulled the kill switch
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason HALTED
    And the exchange received no order for it

  @safety @blocker @allure.label.story:kill-switch
  Scenario Outline: A kill file left by the operator stops new orders
    Given the operator has left <the kill file>
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason HALTED
    And the exchange received no order for it

    Examples: What the operator left
      | the kill file                            |
      | the kill switch file                     |
      | an empty kill switch file, made by hand  |

  @safety @blocker @fault-injection @allure.label.story:kill-switch
  Scenario: A kill switch pulled while the bot is deciding an order stops that order
    Given the exchange is slow to answer the bot's balance check before an order
    And the operator leaves the kill switch file while the bot waits for that answer
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason HALTED
    And the exchange received no order for it

  @safety @blocker @allure.label.story:kill-switch
  Scenario: A halt survives a restart of the bot until the operator resumes
    Given the operator has pulled the kill switch
    And the bot has been restarted since
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason HALTED
    And the exchange received no order for it

  @safety @critical @allure.label.story:kill-switch
  Scenario: Trading cannot resume while the kill file is still there
    Given the operator has pulled the kill switch
    And the operator has left the kill switch file
    When the operator tries to resume trading
    Then resuming is refused because the kill file is still there
    And the bot reports trading as halted

  @safety @critical @allure.label.story:kill-switch
  Scenario: Once the operator resumes, orders are placed again
    Given the operator has pulled the kill switch and then resumed trading
    When the bot asks to buy 0.01 XBT at market
    Then the order is accepted by the exchange

  @safety @blocker @fault-injection @allure.label.story:durability
  Scenario: An order the bot cannot record first is not sent
    The bot writes down every order before sending it, so that after a crash it knows what
    it may have sent; an order it cannot write down does not leave.

    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the disk holding the bot's records refuses every write from now on
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason STORE_FAILURE
    And the exchange received no order for it

  @safety @blocker @fault-injection @allure.label.story:durability
  Scenario: An order the exchange took as the disk stopped recording counts as placed, and is not sent again
    Told "not placed", a caller may ask again (a protective exit does): that would be a second order.

    Given the disk holding the bot's records refuses every write from the moment the exchange receives the next order
    When the bot asks to buy 0.01 XBT at market
    Then the bot reports the order as placed at the exchange, and that it could not write it down
    And the exchange received that order exactly once
    And once the disk takes writes again, the bot's refresh half a minute later records the order under the exchange's reference

  @safety @blocker @fault-injection @allure.label.story:kill-switch
  Scenario: The kill switch cancels every open order even when the disk refuses every write
    Reducing exposure never waits on the disk: the orders are cancelled first, and what
    cannot be written down is reported.

    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the bot has a limit sell of 0.01 XBT resting at 61,000 EUR
    And the disk holding the bot's records refuses every write from now on
    When the operator pulls the kill switch
    Then no order is open on the exchange
    And the bot reports trading as halted

  @safety @blocker @allure.label.story:kill-switch
  Scenario: A kill switch pulled before any bot has run in a home stops the bot started there
    Given the operator has pulled the kill switch naming a home no bot has run in yet, its folders not yet made
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason HALTED
    And the refusal gives the operator's reason, "before the first start"
    And the exchange received no order for it

  @safety @blocker @fault-injection @allure.label.story:kill-switch
  Scenario: The kill command cancels every open order when it cannot use the bot's records, even after the clock was set back
    Without the records it still numbers its requests above the last number they saved, so the
    exchange, which refuses a number below one it has seen, takes its cancel.

    Given the bot has read the balances once while the machine's clock ran 60 seconds fast
    And the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And another program holds the bot's records locked
    When the operator pulls the kill switch from the command line, the machine's clock set right again
    Then no order is open on the exchange
    And once its records are free again, the bot's refresh a quarter of a minute later records every order as cancelled

  @safety @blocker @allure.label.story:kill-switch
  Scenario: A kill switch pulled by an operator who named no home stops the bot
    Without a home named, the bot and the kill command both keep their files in the user's
    state folder, and find the same one.

    Given the operator, who named no home for the bot, has pulled the kill switch from the command line
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason HALTED
    And the refusal gives the operator's reason, "default home"
    And the exchange received no order for it

  @safety @blocker @fault-injection @allure.label.story:kill-switch
  Scenario: A kill switch pulled without a reason while the disk refuses every write still stops every new order
    The halt cannot be written down, so the kill switch alone holds it.

    Given the disk holding the bot's records refuses every write from now on
    And the operator has pulled the kill switch without giving a reason
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason HALTED
    And the exchange received no order for it

  @safety @critical @fault-injection @allure.label.story:durability
  Scenario: A halted bot stays halted when the disk refuses to record the operator's resume
    Given the operator has pulled the kill switch
    And the disk holding the bot's records refuses every write from now on
    When the operator tries to resume trading
    Then resuming is refused because the bot's records cannot be written, in one plain line
    And the bot reports trading as halted

  @safety @blocker @fault-injection @allure.label.story:durability
  Scenario: An order whose outcome the bot never learnt is cancelled even when the disk refuses every write
    Given the bot has a limit buy of 0.01 XBT at 59,000 EUR whose outcome it never learnt
    And the disk holding the bot's records refuses every write from now on
    When the bot cancels that order
    Then the order is cancelled on the exchange
    And the bot reports that the cancel was sent but could not be written down

  @safety @blocker @allure.label.story:dead-mans-switch
  Scenario: Open orders are cancelled by the exchange when the bot goes silent
    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the bot has armed the dead man's switch for 60 seconds
    When 61 seconds pass without a sign of life from the bot
    Then no order is open on the exchange

  @safety @critical @allure.label.story:dead-mans-switch
  Scenario: Open orders stay while the bot keeps signalling it is alive
    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the bot has armed the dead man's switch for 60 seconds
    When 3 minutes pass with a sign of life from the bot every 20 seconds
    Then the order is open on the exchange

  @safety @blocker @fault-injection @allure.label.story:dead-mans-switch
  Scenario: The bot places no order until the exchange has armed its dead man's switch
    Given the bot's strategy buys XBT every minute
    And the exchange refuses every request to arm the dead man's switch
    And the bot has started again
    When the bot runs one trading cycle
    Then the exchange received no order

  @safety @blocker @fault-injection @allure.label.story:dead-mans-switch
  Scenario: Once its dead man's switch has run out unrenewed, the bot places no order until the exchange has armed it again
    Given the bot's strategy buys XBT every minute
    And the bot has started again
    And the exchange refuses every request to arm the dead man's switch
    And the bot has run a trading cycle every minute for 3 minutes
    When the bot runs its next trading cycle a minute later
    Then the exchange received no order

  @safety @critical @fault-injection @allure.label.story:dead-mans-switch
  Scenario: A dead man's switch refused at start-up for the rate limit is armed on a later try
    Given the exchange refuses the next 2 requests to arm the dead man's switch for exceeding the rate limit
    When the bot starts again
    Then the exchange holds the bot's dead man's switch armed

  @safety @blocker @fault-injection @allure.label.story:lost-confirmation
  Scenario: An order whose confirmation was lost is neither lost nor placed twice
    Given the exchange will take the next order but lose its confirmation
    When the bot places a limit buy of 0.01 XBT at 59,000 EUR
    And the bot refreshes its orders
    Then exactly 1 order is open on the exchange
    And the bot knows that order by its client reference

  @safety @blocker @fault-injection @allure.label.story:lost-confirmation
  Scenario: An order still in doubt when the bot stopped is looked up when it starts again, never sent again
    Given the exchange will take the next order but lose its confirmation
    And the exchange cannot list the account's orders until it recovers
    And the bot has placed a limit buy of 0.01 XBT at 59,000 EUR whose outcome it could not learn
    And the exchange has recovered
    When the bot starts again
    Then exactly 1 order is open on the exchange
    And the bot knows that order by its client reference
    And the exchange received that order exactly once

  @safety @blocker @fault-injection @allure.label.story:no-blind-retry
  Scenario: An order answered by an error page is never sent a second time
    Given the exchange will answer the next order with an error page
    When the bot places a limit buy of 0.01 XBT at 59,000 EUR
    Then the exchange received that order exactly once
    And no order is open on the exchange
    And the bot does not count the order as placed

  @safety @critical @fault-injection @allure.label.story:false-answers
  Scenario: The exchange says it refused an order that it put on the book: the bot tracks the order and halts the pair
    Given the exchange will put the next order on the book but answer that the account lacks the funds
    When the bot places a limit buy of 0.01 XBT at 59,000 EUR
    Then the exchange holds the order, open
    And the bot records the order as open, under the exchange's reference, and counts it among today's trades
    And the bot reports that the exchange's answer contradicted what the exchange holds
    And trading on XBT/EUR is halted until the operator clears it, while the bot itself stays active

  @safety @critical @fault-injection @allure.label.story:false-answers
  Scenario: The exchange confirms an order with the reference of the order before it: the bot keeps both apart and halts the pair
    Given the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the exchange will confirm the next order with the reference of the order before it
    When the bot places a limit buy of 0.01 XBT at 58,900 EUR
    Then the exchange holds the order, open
    And the bot records the order as open, under the exchange's reference, and counts it among today's trades
    And the bot still records the earlier order under its own reference
    And the bot reports that the exchange's answer contradicted what the exchange holds
    And trading on XBT/EUR is halted until the operator clears it, while the bot itself stays active

  @safety @critical @fault-injection @allure.label.story:false-answers
  Scenario: The exchange confirms an order with the reference of another bot's order: the bot finds its own at the next refresh and halts the pair
    Given another bot on the account has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the exchange will confirm the next order with the reference of the order before it
    And the bot has a limit buy of 0.01 XBT resting at 58,900 EUR
    And the other bot has cancelled its order
    When the bot refreshes its orders
    Then the exchange holds the order, open
    And the bot records the order as open, under the exchange's reference, and counts it among today's trades
    And the bot reports that the exchange's answer contradicted what the exchange holds
    And trading on XBT/EUR is halted until the operator clears it, while the bot itself stays active

  @safety @critical @fault-injection @allure.label.story:false-answers
  Scenario: An order confirmed under a reference the exchange never issued, which its look-up by client reference misses, is held in doubt until the bot finds it
    Not found under the reference it was given, nor by its client reference, the order is in doubt, as one whose
    confirmation was lost: the bot keeps looking for it among all the account's orders until it finds it.

    Given the exchange will confirm the next order with a reference it never issued
    And the exchange finds no order when the bot looks its orders up by client reference
    And the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the bot has refreshed its orders since
    When the bot refreshes its orders a minute later
    Then exactly 1 order is open on the exchange
    And the bot knows that order by its client reference
    And the bot reports that the exchange's answer contradicted what the exchange holds
    And trading on XBT/EUR is halted until the operator clears it, while the bot itself stays active

  @safety @critical @fault-injection @allure.label.story:false-answers
  Scenario: A pair halted after a false answer takes no new order until the operator clears it
    Given trading on XBT/EUR was halted after a false answer from the exchange
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason PAIR_HALTED
    And the exchange received no order for it

  @normal @fault-injection @allure.label.story:false-answers
  Scenario: Another pair trades on while one pair is halted after a false answer
    Given the bot trades XBT/EUR and ETH/EUR
    And the price of ETH/EUR is 3,000 EUR
    And trading on XBT/EUR was halted after a false answer from the exchange
    When the bot places a limit buy of 0.1 ETH at 2,950 EUR
    Then the order is open on the exchange
