@performance @allure.label.epic:Operations
Feature: Performance under normal load
  How fast the bot places orders and reads the market, how often calls fail, and whether
  memory stays flat over a long run. The figures are attached to the report, and the bot's own
  monitoring page must count the same calls, failures and placements; each limit is
  about ten times what a busy two-core machine measures, so a tenfold slowdown fails.
  Against the simulated exchange, live mode moves no real money.

  Background:
    Given the bot is connected to the exchange in live mode
    And the price of XBT/EUR is 60,000 EUR

  @normal @allure.label.story:order-latency
  Scenario: Placing an order is fast
    Given the bot may trade 100000 times a day for this measurement
    And the operator watches the bot's monitoring page
    When the bot places and cancels 100 limit buys one after another
    Then the placement time is under 50 milliseconds at the median and 400 at the 99th percentile
    And the placement times are attached to the report
    And the bot's monitoring page counts the same calls, failures and placements as these figures

  @normal @allure.label.story:read-latency
  Scenario: Reading balances and prices is fast across the whole distribution
    Given the operator watches the bot's monitoring page
    When the bot reads balances and prices 200 times under normal load
    Then the response time is under 5 milliseconds at the median, 50 at the 95th and 100 at the 99th percentile
    And the response times are attached to the report
    And the bot's monitoring page counts the same calls, failures and placements as these figures

  @normal @allure.label.story:error-rate
  Scenario: Calls under normal load almost never fail
    Given the operator watches the bot's monitoring page
    When the bot reads balances and prices 200 times under normal load
    Then fewer than 1% of the calls failed
    And the bot's monitoring page counts the same calls, failures and placements as these figures

  @minor @allure.label.story:memory
  Scenario: Memory stays flat over a sustained run
    When the bot runs 150 trading cycles
    Then the memory in use grew by less than 1 MB between the first third and the end of the run
    And the memory figures are attached to the report
