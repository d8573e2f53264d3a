@market-data @allure.label.epic:Exchange-access
Feature: Watching the market as it moves
  With the market stream switched on, the exchange tells the bot of every change to the
  order book and of every event of the bot's own orders as it happens, instead of the bot
  asking once a cycle. The bot checks every change against the exchange's own check value,
  decides only on a book it can vouch for, and asks the exchange directly whenever the
  stream cannot vouch for something.

  Background:
    Given the bot is connected to the exchange in live mode
    And the price of XBT/EUR is 60,000 EUR
    And the bot watches the market as it moves

  @fault-injection @normal @allure.label.story:live-book
  Scenario: The bot's book stays the exchange's through a long series of changes
    When the price of XBT/EUR moves 150 times in small steps
    Then after every move the bot's book of XBT/EUR is the exchange's, level for level
    And every change the bot received passed the exchange's check

  @safety @critical @fault-injection @allure.label.story:live-book
  Scenario: An altered change to the book is noticed and the book rebuilt before the next decision
    When the exchange alters one change to the book of XBT/EUR, and sends the fresh book only a while later
    Then the bot notices the altered change at once
    And the bot's next decision is taken on the exchange's price service, not on the altered book
    And before the decision after it the bot's book of XBT/EUR is the exchange's again
    And that decision is taken on the rebuilt book

  @safety @critical @fault-injection @allure.label.story:live-book
  Scenario: When the stream goes silent the bot stops trading until it has a fresh book
    Given the bot's risk limits are:
      | limit                                | value |
      | the strategy's buy interval, seconds | 10    |
    And the exchange stops answering price requests
    When the exchange's stream goes silent
    And 31 seconds pass, in which the bot tries the stream again
    Then the bot's next trading cycle places no order, because its market data is stale
    When the exchange's stream speaks again
    Then the bot's next trading cycle buys, on the fresh book

  @safety @critical @fault-injection @allure.label.story:own-orders
  Scenario: A fill is known to the bot from the exchange's own notice, without asking
    Given the bot has a limit buy of 0.01 XBT resting at 59,400 EUR
    When the price of XBT/EUR falls to 59,000 EUR
    Then the bot knows the order is filled, with its fill and fee and what it cost, from the exchange's notice alone
    And the bot asked the exchange nothing about its orders since it placed that order

  @safety @critical @fault-injection @allure.label.story:own-orders
  Scenario: After the connection drops, no fill is missed and no order is doubled
    Given the bot has a limit buy of 0.01 XBT resting at 59,400 EUR
    When the connection to the exchange's stream drops just as the order fills
    And the bot runs one trading cycle
    Then the bot knows the order is filled, with each of its fills recorded once
    And the exchange received that order once and no other order

  @safety @critical @fault-injection @allure.label.story:own-orders
  Scenario: A fill whose last notices never arrive is still found by the bot
    Given the bot has a limit buy of 0.01 XBT resting at 59,400 EUR
    When the exchange's last notices of the order's fill never arrive
    And the bot runs one trading cycle
    Then the bot knows the order is filled, with each of its fills recorded once
    And the exchange received that order once and no other order
