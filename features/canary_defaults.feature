@orders @allure.label.epic:Protection
Feature: Canary mode as an operator who set nothing gets it
  Canary mode proves the whole path to the exchange with an order that cannot trade, cancelled
  as soon as the exchange has it. Its defaults: at least 10% from the market, the smallest volume
  worth the bot's smallest order of 5 EUR (rounded up to the exchange's 8 decimals), at most
  10 EUR. Against the simulated exchange no real money moves.

  @safety @blocker @fault-injection @allure.label.story:canary
  Scenario Outline: An operator who set nothing gets a canary of the smallest volume worth 5 EUR, 10% from the market
    Given the bot is connected to the exchange in canary mode
    And the price of XBT/EUR is 60,000 EUR
    When the bot places its canary <side> order
    Then the order is placed and cancelled at once
    And the order was sent for <volume> XBT at <price> EUR

    Examples: 10% from 60,000 EUR is 54,000 EUR below and 66,000 EUR above
      | side | volume     | price  |
      | buy  | 0.0000926  | 54,000 |
      | sell | 0.00007576 | 66,000 |
