@operations @allure.label.epic:Operations
Feature: Watching the bot while it runs unattended
  An operator who leaves the bot running reads what it does on its monitoring page: how long its
  orders take, how fast the exchange answers, how often calls fail and how much memory it uses; and is
  told at once when something needs attention. What the page says must be what the exchange recorded.
  Against the simulated exchange, live mode moves no real money.

  Background:
    Given the bot is connected to the exchange in live mode
    And the price of XBT/EUR is 60,000 EUR
    And the operator watches the bot's monitoring page

  @normal @fault-injection @allure.label.story:monitoring-page
  Scenario: The monitoring page agrees with what the exchange recorded
    Given the exchange fails the next 2 balance requests
    When the bot trades for 3 cycles, a minute apart, buying 0.001 XBT at market in each
    And the operator reads the monitoring page
    Then the page shows how long each order took to be acknowledged and to be filled
    And the page counts as many calls and failed calls of each kind as the exchange recorded
    And the page shows the exchange's response times and the memory the bot uses

  @normal @fault-injection @allure.label.story:notifications
  Scenario: The operator is told when the circuit breaker opens
    Given the operator has asked to be told of what needs attention
    And the exchange fails the next 5 requests
    When the bot reads the price of XBT/EUR 2 times
    Then the circuit breaker is open
    And the operator is told that the circuit breaker opened, and why
    And the message holds neither the bot's key nor its secret
