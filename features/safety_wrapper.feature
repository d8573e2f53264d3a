@safety-wrapper @allure.label.epic:Protection
Feature: The safety wrapper decides what may reach the exchange
  Every call the bot makes passes one door. In each trading mode only a known list of
  operations may pass; everything else is refused inside the bot, written to the audit
  trail, and never reaches the exchange. Money never leaves the account.

  @safety @blocker @live-safe @allure.label.story:allowlist
  Scenario Outline: In every mode, operations outside the mode's list never reach the exchange
    Given the bot is connected to the exchange in <mode> mode
    When the bot attempts every operation that <mode> mode does not allow
    Then every attempt is refused
    And none of them reached the exchange
    And every refused attempt is in the audit trail

    Examples: Modes that deploy no capital
      | mode      |
      | read-only |
      | paper     |

    Examples: Modes that trade
      | mode   |
      | canary |
      | live   |

  @safety @blocker @live-safe @allure.label.story:withdrawal
  Scenario Outline: Withdrawals are refused in every mode
    Given the bot is connected to the exchange in <mode> mode
    When the bot attempts to withdraw 0.5 XBT
    Then the attempt is refused
    And the audit trail shows the withdrawal as refused
    And the exchange received no request at all for it

    Examples: Every mode
      | mode      |
      | read-only |
      | paper     |
      | canary    |
      | live      |

  @safety @blocker @allure.label.story:allowlist
  Scenario Outline: Operations no mode allows are refused by name, even in live mode, and the audit trail says why
    Given the bot is connected to the exchange in live mode
    When the bot attempts <operation>, which no mode allows
    Then the attempt is refused
    And the audit trail shows the attempt refused as <refusal>
    And the exchange received no request at all for it

    Examples: Refused in every mode, each for its own reason
      | operation                                       | refusal                                                               |
      | to place several orders in one batch            | refused in every mode, each order having to pass the risk check alone |
      | a withdrawal under a name the bot does not know | a funding operation, refused in every mode                            |
      | to open a subaccount                            | a funding operation, refused in every mode                            |
      | an operation the bot does not know              | on no list, refused by default                                        |

  @safety @blocker @live-safe @allure.label.story:paper
  Scenario: In paper mode an order is only validated by the exchange, never placed
    Given the bot is connected to the exchange in paper mode
    When the bot asks to buy 0.001 XBT at market
    Then the order is accepted as validated only
    And the exchange holds no new order
    And the account's balances are unchanged

  @safety @blocker @live-safe @allure.label.story:paper
  Scenario: In paper mode even an order sent past the bot's order checks is only validated
    Given the bot is connected to the exchange in paper mode
    When the bot sends an order to buy 0.001 XBT at market straight to the exchange, without asking for validation only
    Then the exchange only validated the order
    And the exchange holds no new order
    And the account's balances are unchanged

  @safety @blocker @allure.label.story:paper
  Scenario: In paper mode an order sent through the bot's exchange client itself, past the wrapper, never leaves
    Given the bot is connected to the exchange in paper mode
    When code holding the bot's exchange client sends it an order to buy 0.001 XBT at market, past the safety wrapper
    Then the attempt is refused
    And the exchange received no order

  @safety @blocker @allure.label.story:canary
  Scenario: In canary mode a trading cycle places one tiny post-only order far from the market and cancels it at once
    Given the bot's risk limits are:
      | limit                          | value |
      | canary distance from market, % | 10    |
      | largest canary order in EUR    | 10    |
    And the bot is connected to the exchange in canary mode
    And the price of XBT/EUR is 60,000 EUR
    When the bot runs one trading cycle
    Then the exchange received exactly one order, a post-only limit order at least 10% from 60,000 EUR on the side that waits, worth at most 10 EUR
    And the exchange accepted that order and the bot's next request on the account cancelled it
    And no order is open on the exchange
    And the account's balances are unchanged

  @safety @blocker @live-safe @allure.label.story:read-only
  Scenario: In read-only mode the bot reads balances but places no order
    Given the bot is connected to the exchange in read-only mode
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused
    And the exchange received no order for it

  @safety @critical @fault-injection @allure.label.story:cancel
  Scenario: While the exchange is in maintenance a cancel is not attempted, and the bot says it was not done
    An operator told "cancelled" would think the order gone while it still rests on the book.

    Given the bot is connected to the exchange in live mode
    And the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the exchange is in maintenance mode
    When the bot cancels that order
    Then the bot reports the order as not cancelled, because the exchange is in maintenance
    And the exchange received no request to cancel it
    And the order is open on the exchange
    And the audit trail shows the cancel as refused

  @safety @critical @allure.label.story:audit
  Scenario: A cancel the bot sent is in the audit trail as let through
    Given the bot is connected to the exchange in live mode
    And the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    When the bot cancels that order
    Then the order is cancelled on the exchange
    And the audit trail shows the cancel as let through

  @safety @critical @fault-injection @allure.label.story:cancel
  Scenario: A cancel of an order that filled unseen is reported as not done, though its trades cannot be read
    The order the bot never heard back about has filled meanwhile, and the exchange fails to show
    its trades: the bot learns that the order filled, must not report it cancelled, and records
    the fill once the trades can be read.

    Given the bot is connected to the exchange in live mode
    And the bot has a limit buy of 0.01 XBT at 59,000 EUR whose outcome it never learnt
    And the price of XBT/EUR has fallen to 58,900 EUR
    And the exchange fails every read of the account's trades, being unavailable for a while
    When the bot cancels that order
    Then the bot reports the order as not cancelled, because it has filled
    And once the exchange shows its trades again, the bot's recovery records the order filled, with its fill

  @safety @blocker @allure.label.story:live-opt-in
  Scenario Outline: Live trading needs both the environment's opt-in and the explicit flag
    Given the bot is connected to the exchange in read-only mode
    And the environment <env> the live trading opt-in
    When the operator switches to live mode <flag> the explicit live flag
    Then the bot is in <resulting> mode
    And the audit trail shows the switch to live mode as <verdict>

    Examples: Missing one of the two
      | env          | flag    | resulting | verdict |
      | does not set | with    | read-only | refused |
      | sets         | without | read-only | refused |
      | does not set | without | read-only | refused |

    Examples: Both given
      | env  | flag | resulting | verdict |
      | sets | with | live      | allowed |

  @safety @blocker @allure.label.story:live-opt-in
  Scenario: A bot set to live mode without the operator's consent to trade real money sends no order
    Given the operator has set the bot to live mode and gives the explicit live flag
    But the operator has not consented to trading real money
    When the operator starts the bot, which then tries to buy 0.001 XBT at market
    Then the bot refuses to start with one line saying live trading needs the operator's consent
    And the exchange received no order

  @safety @critical @live-safe @allure.label.story:audit
  Scenario: Every attempt to reach the exchange is written to the audit trail
    Given the bot is connected to the exchange in paper mode
    When the bot reads the balances
    And the bot attempts to withdraw 0.5 XBT
    Then the audit trail shows the balance read as allowed
    And the audit trail shows the withdrawal as refused

  @safety @blocker @fault-injection @allure.label.story:secrets
  Scenario: Neither the key nor the secret appears in anything the bot logs or prints
    Given the bot is connected to the exchange in live mode
    And the price of XBT/EUR is 60,000 EUR
    When the bot goes through a whole session with everything it logs captured down to debug messages:
      | step                                                         |
      | the operator checks the connection from the command line     |
      | the bot buys and sells at market and cancels a resting order |
      | the bot runs one trading cycle                               |
      | the bot attempts to withdraw, and is refused                 |
      | the exchange answers an order and a balance read with errors |
      | the bot's configuration is printed                           |
    Then nothing the bot logged or printed contains the key or the secret
