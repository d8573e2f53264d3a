@connectivity @allure.label.epic:Exchange-access
Feature: Connecting to the exchange
  Before it trades, the bot must prove it can talk to the exchange with its own key,
  and when it cannot, say why in words an operator understands. Reads that fail for
  a moment are tried again after a pause; nothing else is.

  Background:
    Given the bot is connected to the exchange in read-only mode

  @live-safe @normal @allure.label.story:connection-check
  Scenario: A valid key is accepted and the balances are read
    When the operator checks the connection
    Then the exchange is reported online
    And the bot is reported as authenticated
    And the balances shown are the exchange's balances

  @normal @allure.label.story:connection-check
  Scenario Outline: A key the exchange refuses is reported with a clear reason
    Given the bot uses <credentials>
    When the operator checks the connection
    Then the bot is reported as not authenticated
    And the reason given mentions "<reason>"
    And no balance is shown

    Examples: Refused credentials
      | credentials              | reason            |
      | a key the exchange does not know | invalid key |
      | the right key with a wrong secret | invalid signature |

  @normal @allure.label.story:nonce
  Scenario: A request whose sequence number was already used is refused with a clear reason
    Given another program using the bot's key has already sent a request numbered far ahead
    When the operator checks the connection
    Then the bot is reported as not authenticated
    And the reason given mentions "nonce"

  @safety @critical @allure.label.story:nonce
  Scenario: After a restart the bot still numbers its requests above every earlier one
    The exchange refuses a request whose number is not above the last one it accepted for
    the key; the bot keeps its mark on disk, a little ahead of the clock, and counts up from it.

    Given the bot has read the balances once
    And the bot has been restarted since
    When the bot reads the balances 3 times in a row
    Then the exchange answered all 4 balance reads
    And the exchange refused no request for its sequence number

  @safety @critical @allure.label.story:nonce
  Scenario: After the machine's clock was set back between two runs, the bot still numbers its requests above every earlier one
    A clock corrected backwards by half a minute (a time server's step, a virtual machine
    resumed) must not get the bot's requests refused: the exchange remembers the highest
    number it accepted, and the bot counts up from the mark it saved, not from the clock.

    Given the bot has read the balances once while the machine's clock ran 30 seconds fast
    And the bot has been restarted since, with the clock set right
    When the bot reads the balances 3 times in a row
    Then the exchange answered all 4 balance reads
    And the exchange refused no request for its sequence number

  @safety @critical @allure.label.story:nonce
  Scenario: Requests sent within one tick of the machine's clock still carry rising numbers
    A coarse or stalled clock (a virtual machine's, or one being corrected) gives several
    requests the same time; each must still be numbered above the one before it, or the
    exchange refuses it.

    Given the bot has read the balances once
    And the machine's clock stands still from now on
    When the bot reads the balances 3 times in a row
    Then the exchange answered all 4 balance reads
    And the exchange refused no request for its sequence number

  @safety @critical @fault-injection @allure.label.story:transient-failures
  Scenario: A read that fails for a moment is tried again after a growing pause
    The pauses spare the account's request allowance; each varies by up to a quarter,
    so that many bots do not retry in step.

    Given the exchange is unavailable for the next 2 balance requests
    When the operator checks the connection
    Then the bot is reported as authenticated
    And the exchange saw the balance request again after pauses of about
      | pause, seconds |
      | 0.5            |
      | 1              |

  @safety @critical @fault-injection @allure.label.story:transient-failures
  Scenario: A failing read is not tried again once too little of its time limit is left
    One time limit covers a read's tries and the pauses between them (about half a second and
    one second): with 1 second in all, a third try would start with less than a tenth of it
    left, so it is not made, and a try never made is no failure for the circuit breaker.

    Given each request to the exchange may take at most 1 second, its retries and pauses included
    And the exchange is unavailable for every balance request
    When the bot reads the balances 2 times in a row
    Then the exchange was asked for the balances exactly 4 times
    And the circuit breaker is closed

  @fault-injection @normal @allure.label.story:transient-failures
  Scenario: A read that keeps failing is reported instead of retried forever
    Given the exchange is unavailable for every balance request
    When the operator checks the connection
    Then the bot is reported as not authenticated
    And the reason given mentions "unavailable"
    And the exchange was asked for the balances at most 5 times
