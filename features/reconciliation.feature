@reconciliation @allure.label.epic:Trading
Feature: Reconciling the bot's records with the exchange
  The exchange is the truth. After trading, the bot's trades, balances, open orders and
  fees must agree with the exchange's, and any difference is reported, not hidden.
  Against the simulated exchange, live mode moves no real money.

  Background:
    Given the bot is connected to the exchange in live mode
    And the price of XBT/EUR is 60,000 EUR
    And the bot has traded for a while: 2 market buys, 1 market sell and 1 resting limit buy

  @safety @critical @fault-injection @allure.label.story:orders
  Scenario: An order the exchange turned away is no difference between the bot and the exchange
    An order the exchange refused never existed there: the bot's record of it is no difference, so
    the check of the day's orders against the exchange still goes through.

    Given the exchange turns away the bot's next order, accepting only cancellations for a moment
    And the bot's limit buy of 0.01 XBT at 59,000 EUR was turned away by the exchange
    When the bot reconciles with the exchange
    Then no discrepancy is reported

  @safety @critical @allure.label.story:trades
  Scenario: The bot's trade history agrees with the exchange's
    When the bot reconciles with the exchange
    Then the bot's trades are exactly the exchange's trades
    And no discrepancy is reported

  @safety @critical @allure.label.story:balances
  Scenario: The bot's balances agree with the exchange's
    When the bot reconciles with the exchange
    Then the bot's balances equal the exchange's balances
    And no discrepancy is reported

  @safety @critical @allure.label.story:open-orders
  Scenario: The bot's open orders agree with the exchange's
    When the bot reconciles with the exchange
    Then the bot's open orders are exactly the exchange's open orders
    And no discrepancy is reported
    And the audit trail records that reconciliation found no difference

  @normal @allure.label.story:fees
  Scenario: The fees the bot recorded add up to the fees the exchange charged
    When the bot reconciles with the exchange
    Then the fees the bot recorded add up to the fees the exchange charged

  @safety @critical @fault-injection @allure.label.story:fees
  Scenario: A trade charged more than the account's fee is reported to the operator
    The exchange charges each trade the account's own fee: the rate of its fee tier, lower for a
    maker than for a taker. A trade charged more is money lost, and the operator must hear of it.

    Given the exchange will charge the bot's next trade twice the account's fee
    And the bot has bought 0.01 XBT at market a moment ago
    When the bot reconciles with the exchange
    Then a discrepancy is reported for the fee of that trade, and for no other
    And the audit trail records that reconciliation found a wrong fee

  @safety @critical @fault-injection @allure.label.story:fees
  Scenario: A trade charged more than the account's fee is reported though the exchange failed to describe an earlier trade's market
    The bot judges each trade's fee by its market's rules; a trade whose market the exchange could not
    describe at that moment waits for the next reconciliation, and the trades after it are still judged.

    Given the exchange will charge the bot's next trade twice the account's fee
    And the bot has bought 0.01 XBT at market a moment ago
    And an hour has passed, and the exchange will fail every try of the bot's next request for its markets' rules
    When the bot reconciles with the exchange
    Then a discrepancy is reported for the fee of that trade, and for no other

  @safety @critical @allure.label.story:fees
  Scenario: Trades charged the account's own fee are not reported, as its fee falls to a lower tier
    An account that traded more than 10,000 over the last 30 days pays less than the exchange's
    first fee tier: 0.35 % instead of 0.40 % as a taker, 0.20 % instead of 0.25 % as a maker. The
    trade that takes it past 10,000 is still charged the first tier's fee.

    Given the account has traded 9,500 EUR over the last 30 days
    And the bot has bought 0.01 XBT at market a moment ago
    And the price of XBT/EUR has fallen to 58,900 EUR
    And the bot has seen its resting buy filled
    When the bot reconciles with the exchange
    Then the bot's trades since were charged 0.40 % as a taker, then 0.20 % as a maker
    And no discrepancy is reported

  @safety @critical @fault-injection @allure.label.story:fees
  Scenario: A trade charged more than the account's fee is still reported while the exchange cannot tell the account's fee
    The bot judges each trade by the fee the account paid when it was made, as the bot read it then: it
    need not ask the exchange again, and a wrong fee is not let through because it cannot.

    Given the exchange will charge the bot's next trade twice the account's fee
    And the bot has bought 0.01 XBT at market a moment ago
    And the exchange cannot tell the account's fee tier until it recovers
    When the bot reconciles with the exchange
    Then a discrepancy is reported for the fee of that trade, and for no other

  @safety @critical @fault-injection @allure.label.story:fees
  Scenario: While the exchange cannot tell the account's fee, reconciliation still reports every other difference
    A trade made meanwhile is judged once the fee can be read again; the rest of the comparison does not wait.

    Given the exchange cannot tell the account's fee tier until it recovers
    And the bot has bought 0.01 XBT at market a moment ago
    And someone sold 0.01 XBT at market on the account by hand half a minute later
    When the bot reconciles with the exchange
    Then a discrepancy is reported for the trade the bot did not make

  @safety @critical @allure.label.story:fees
  Scenario: A restarted bot judges its earlier trades by the fee tier in force when they were made
    The account's fee tier falls as it trades; a trade made before is still judged by the fee of its time,
    also by the bot that starts again on the same records.

    Given the account has traded 9,500 EUR over the last 30 days
    And the bot has bought 0.01 XBT at market a moment ago
    And the price of XBT/EUR has fallen to 58,900 EUR
    And the bot has seen its resting buy filled
    When the bot starts again
    And the bot reconciles with the exchange
    Then the bot's trades since were charged 0.40 % as a taker, then 0.20 % as a maker
    And no discrepancy is reported

  @safety @critical @allure.label.story:fees
  Scenario: A trade is still judged by the fee of its time after 50 trades at the account's lower fee
    The bot keeps every fee the account paid over time, however often it has read the same fee since.

    Given the bot's risk limits are:
      | limit          | value |
      | trades per day | 100   |
    And the account has traded 9,500 EUR over the last 30 days
    And the bot has bought 0.01 XBT at market a moment ago
    And the bot has bought 0.0001 XBT at market 50 times since, a second apart
    When the bot reconciles with the exchange
    Then the bot's trades since were charged 0.40 % as a taker, then 0.35 % as a taker 50 times
    And no discrepancy is reported

  @safety @blocker @fault-injection @allure.label.story:discrepancy
  Scenario: An order the bot did not place is reported as a discrepancy
    Given someone placed a limit sell of 0.01 XBT at 65,000 EUR on the account by hand
    When the bot reconciles with the exchange
    Then a discrepancy is reported for an open order the bot does not know
    And the audit trail records that reconciliation found an order the bot does not know

  @safety @blocker @fault-injection @allure.label.story:discrepancy
  Scenario: An order placed by hand is not taken over by the bot when it starts again
    At start-up the bot takes back only its own orders that its records lack; one placed by hand
    stays someone else's, reported, never managed or cancelled by the bot.

    Given someone placed a limit sell of 0.01 XBT at 65,000 EUR on the account by hand
    When the bot starts again
    Then the bot's records do not hold the order placed by hand
    And the exchange still shows the order placed by hand open

  @safety @blocker @fault-injection @allure.label.story:discrepancy
  Scenario: An order another program placed with its own client reference is not taken over by the bot when it starts again
    Only the bot's own references are its orders; another program on the account names its orders too.

    Given another program placed a limit sell of 0.01 XBT at 65,000 EUR on the account, under its own client reference
    When the bot starts again
    Then the bot's records do not hold the order placed by hand
    And the exchange still shows the order placed by hand open

  @safety @blocker @fault-injection @allure.label.story:discrepancy
  Scenario: A trade made by hand after a clean reconciliation is reported at the next one
    The bot reads only the newest trades at each reconciliation; a trade made since the last one
    must still be among them.

    Given the bot has bought 0.01 XBT at market a moment ago
    And the bot has reconciled with the exchange and found no difference
    And the bot has bought 0.01 XBT more at market since
    And someone sold 0.01 XBT at market on the account by hand half a minute later
    When the bot reconciles with the exchange
    Then a discrepancy is reported for the trade the bot did not make
    And none of the bot's own trades is reported missing from the exchange
    And that reconciliation read the exchange's trades only from a minute before the newest one it had seen

  @safety @blocker @fault-injection @allure.label.story:trades
  Scenario: A trade lost from the bot's records is named at the next reconciliation, however long ago it was made
    Each reconciliation reads only the newest trades and takes the older ones on trust, as long as the
    bot's records of them are unchanged since; once they are not, it reads them all again.

    Given the bot has bought 0.01 XBT at market a moment ago
    And the bot has reconciled with the exchange and found no difference
    And the bot's record of its first trade has been lost
    When the bot reconciles with the exchange
    Then a discrepancy is reported for the lost trade, as missing from the bot's records

  @safety @blocker @fault-injection @allure.label.story:trades
  Scenario: A trade in the bot's records that the exchange never made is named at the next reconciliation
    A record the bot gained by mistake (a backup of another account restored over its own, a bad
    write) claims coins or money the account does not have.

    Given the bot has bought 0.01 XBT at market a moment ago
    And the bot has reconciled with the exchange and found no difference
    And the bot's records have gained a copy of that trade, under an id the exchange never gave
    When the bot reconciles with the exchange
    Then a discrepancy is reported for that trade, as not made at the exchange

  @safety @blocker @fault-injection @allure.label.story:trades
  Scenario: A trade lost from the bot's records since its last reconciliation is named, with the order it belongs to
    The next reconciliation reads the newest trades again; the order of a lost trade is named too, though the
    bot's record of that order has not changed for minutes.

    Given the bot has bought 0.01 XBT at market 2 minutes ago
    And the bot has reconciled with the exchange and found no difference
    And the bot's record of its newest trade has been lost
    When the bot reconciles with the exchange
    Then a discrepancy is reported for the lost trade, as missing from the bot's records
    And the order of the lost trade is reported as missing part of its fills

  @safety @blocker @fault-injection @allure.label.story:trades
  Scenario: A trade lost from the bot's records is taken back from the exchange when the bot starts again, and the start says so
    The bot's positions are its trades: at start-up it reads the exchange's trades again and takes back the ones
    its records lost, each once; the operator reads at start-up how many it took back.

    Given the bot has bought 0.01 XBT at market a moment ago
    And the bot has reconciled with the exchange and found no difference
    And the bot's record of its first trade has been lost
    When the bot starts again
    Then the bot's records hold the lost trade again, and its start-up says it took back 1 trade
