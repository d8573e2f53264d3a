@risk @allure.label.epic:Protection
Feature: The strategy takes its profit
  With a position, the strategy sells all of it with a limit order at the bid once the bid is
  its profit target (3% by default) above the position's average entry, the purchase's fee
  included. The stop-loss and take-profit keep their defaults (5% and 10%), out of the way here.
  Against the simulated exchange, live mode moves no real money.

  Background:
    Given the bot is connected to the exchange in live mode
    And the bot holds 0.01 XBT bought at an asking price of 60,000 EUR, an average entry of 60,240 EUR with the fee, and no protective order at the exchange

  @safety @critical @fault-injection @allure.label.story:strategy
  Scenario Outline: The strategy sells the whole position at the bid once the bid is 3% above the average entry, not before
    Given the price of XBT/EUR has risen to <price> EUR
    When the bot runs its next trading cycle a minute later
    Then <outcome>

    Examples: 3% above 60,240 EUR is a bid of 62,047.20 EUR (the bid is 0.10 EUR below the price)
      | price    | outcome                                                                        |
      | 62,047.3 | the bot has sold the whole position with a limit sell at the bid, 62,047.2 EUR |
      | 62,047.2 | the bot still holds the position and sent no order                             |
