@market-data @allure.label.epic:Exchange-access
Feature: Reading the market
  The bot decides on prices, candles and the order book. It must read them from the
  exchange correctly, refuse data that does not make sense, and not ask the exchange
  again for data it read a moment ago.

  Background:
    Given the bot is connected to the exchange in read-only mode

  @live-safe @normal @allure.label.story:price
  Scenario: The live price of a pair is read with the bid below the ask
    When the bot reads the price of XBT/EUR
    Then the bid is below the ask
    And the last traded price lies within 1% of the middle of bid and ask

  @fault-injection @normal @allure.label.story:price
  Scenario: The price the bot reads is the exchange's current price
    Given the price of XBT/EUR is 61,000 EUR
    When the bot reads the price of XBT/EUR
    Then the middle of bid and ask is within 0.1% of 61,000 EUR

  @live-safe @normal @allure.label.story:candles
  Scenario: One-minute candles are consistent
    When the bot reads the one-minute candles of XBT/EUR
    Then every candle's high is at least its open, close and low
    And every candle's low is at most its open and close
    And no candle has a negative volume
    And the candles are in time order, one minute apart

  @fault-injection @normal @allure.label.story:candles
  Scenario: A garbled answer is never used as market data
    Given the exchange garbles every answer about candles
    When the bot reads the one-minute candles of XBT/EUR
    Then the bot reports that the candles could not be read because the answer was malformed
    And no candle was handed to the bot

  @normal @allure.label.story:history
  Scenario: A history within what the exchange keeps is fetched complete
    When the bot fetches the hourly candles of XBT/EUR for the last 20 days
    Then the candles cover the whole period without gaps or duplicates
    And no gap is reported

  @normal @allure.label.story:history
  Scenario: A history longer than the exchange keeps reports the missing part instead of hiding it
    When the bot fetches the hourly candles of XBT/EUR for the last 45 days
    Then the candles that were returned follow each other without gaps or duplicates
    And the missing start of the period is reported as a gap

  @normal @allure.label.story:history
  Scenario: A history fetched once is read from the bot's own store the next time
    Given the bot fetched the hourly candles of XBT/EUR for the last 20 days
    When the bot fetches the hourly candles of XBT/EUR for the last 20 days
    Then the exchange was asked for candles only for the first fetch

  @live-safe @normal @allure.label.story:history
  Scenario: The trade history of a period longer than one answer is fetched across several pages, complete and without duplicates
    When the bot fetches every trade of XBT/EUR in the last 2 days
    Then the trades were fetched in several parts, each continuing where the previous part ended
    And every trade lies within the period, appears once, and follows the one before it in time
    And the trades are exactly the ones the exchange recorded for the period

  @normal @allure.label.story:caching
  Scenario: A second read within the freshness window does not ask the exchange again
    Given the bot read the price of XBT/EUR a moment ago
    When the bot reads the price of XBT/EUR again 1 second later
    Then the exchange was asked for the price of XBT/EUR only once

  @normal @allure.label.story:caching
  Scenario: A read after the freshness window asks the exchange again
    Given the bot read the price of XBT/EUR a moment ago
    When the bot reads the price of XBT/EUR again 60 seconds later
    Then the exchange was asked for the price of XBT/EUR 2 times

  @live-safe @normal @allure.label.story:order-book
  Scenario: The order book is sorted and not crossed
    When the bot reads the order book of XBT/EUR with 10 levels on each side
    Then the asks rise from the best ask outwards
    And the bids fall from the best bid outwards
    And the best bid is below the best ask

  @normal @allure.label.story:order-book
  Scenario: The order book the bot reads matches the exchange's
    When the bot reads the order book of XBT/EUR with 10 levels on each side
    Then the bot's order book shows the same prices and volumes as the exchange's
