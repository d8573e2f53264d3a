@failsafe @allure.label.epic:Exchange-access
Feature: Staying within the exchange's request allowance
  The exchange counts each account's private requests and refuses them for a while once the count
  passes the allowance of the account's verification tier. The bot keeps its own copy of the count
  and waits before it would go over, keeping one request in reserve. Against the simulated
  exchange, live mode moves no real money.

  Background:
    Given the bot is connected to the exchange in live mode

  @safety @critical @allure.label.story:rate-limits
  Scenario Outline: On each verification tier, a burst of reads keeps one request of the allowance in reserve
    Given the account is on the <tier> verification tier, and the bot is set for it
    When the bot reads the balances 60 times in a row
    Then the exchange answered all 60 balance reads
    And the exchange's request counter came within one request of <highest> and never went above it

    Examples: The allowance is 15 requests on starter, 20 on intermediate and pro
      | tier         | highest |
      | starter      | 14      |
      | intermediate | 19      |
      | pro          | 19      |

  @safety @critical @fault-injection @allure.label.story:rate-limits
  Scenario: A price request refused for the rate limit is asked again after a pause of 5 seconds
    Price requests are limited per address, not per account: after a refusal the bot leaves the
    exchange 5 seconds, then asks again; waiting far longer would leave it without prices.

    Given the exchange refuses the next price request for exceeding the rate limit
    When the bot reads the price of XBT/EUR
    Then the bot has the price of XBT/EUR
    And the exchange saw the price request twice, the second 5 seconds after the first
