@operations @allure.label.epic:Operations
Feature: Settings the bot cannot honour stop it at start, in one line
  A setting outside the range the bot allows is refused when the bot starts, in one line that
  names the setting and the range, before the bot contacts the exchange; a value at the very edge
  of the range is accepted. A misspelt setting is refused too, instead of leaving the setting it
  meant at its default. Against the simulated exchange no real money moves.

  @safety @critical @allure.label.story:configuration
  Scenario Outline: A setting is accepted at the edge of its range and refused one step beyond it
    The refusal is one line naming the setting and what it allows, and the exchange hears nothing from the bot.

    When the operator starts the bot with "<setting>" set to <value>
    Then <what the operator sees>

    Examples:
      | setting                                   | value | what the operator sees                                                                    |
      | the dead man's switch, seconds            | 86399 | the bot starts and checks its connection                                                  |
      | the dead man's switch, seconds            | 86400 | the bot refuses to start, naming the setting: must be <= 86399                            |
      | the bot's own tag in its order references | a1b2  | the bot starts and checks its connection                                                  |
      | the bot's own tag in its order references | a1b2c | the bot refuses to start, naming the setting: must be exactly 4 characters 0-9 or a-z     |
      | the bot's own tag in its order references | a1b   | the bot refuses to start, naming the setting: must be exactly 4 characters 0-9 or a-z     |
      | the bound on a whole request, seconds     | 10    | the bot starts and checks its connection                                                  |
      | the bound on a whole request, seconds     | 9.99  | the bot refuses to start, naming the setting: must be at least KRAKEN_READ_TIMEOUT (10 s) |
      | the wait for each answer, seconds         | 30    | the bot starts and checks its connection                                                  |
      | the wait for each answer, seconds         | 30.01 | the bot refuses to start, naming the setting: must be at most KRAKEN_TOTAL_TIMEOUT (30 s  |

  @safety @critical @allure.label.story:configuration
  Scenario: A limit misspelt by two letters stops the bot, instead of leaving the limit at its default
    When the operator starts the bot with MAX_DAILY_LOSS_EUROS=600 in its environment, a misspelling
    Then the bot refuses to start with a one-line configuration error about it, saying did you mean MAX_DAILY_LOSS_EUR?

  @safety @critical @allure.label.story:configuration
  Scenario: With the market stream on, the bot refuses to start until it is told where a non-Kraken exchange streams
    The bot knows only Kraken's own stream addresses; against any other exchange (the simulator,
    a proxy) a guessed address would stream another exchange's prices into its decisions.

    When the operator starts the bot with the market stream on, against an exchange that is not Kraken, without telling it where that exchange's stream is
    Then the bot refuses to start, naming the setting: is required with MARKET_STREAM=on
