@safety-wrapper @allure.label.epic:Protection
Feature: Paper mode only ever has orders validated
  In paper mode the exchange checks each order the bot would place and places none. The bot
  lets an order out only when it built it itself as "validate only"; anything else, first or
  hundredth, is refused inside the bot.

  @safety @blocker @allure.label.story:paper
  Scenario: After a first paper order, an order sent through the bot's exchange client past the wrapper still never leaves
    The bot's own validated order opens a door for that one order only; it must close behind it.

    Given the bot is connected to the exchange in paper mode
    And the bot has had an order to buy 0.001 XBT at market validated by the exchange
    When code holding the bot's exchange client sends it an order to buy 0.001 XBT at market, past the safety wrapper
    Then the attempt is refused
    And the exchange received no order
