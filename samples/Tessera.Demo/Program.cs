using Microsoft.Extensions.Options;
using Tessera.Demo;

// Configuration mistakes (an unknown store, a missing production key) end start-up with one readable line, not a
// stack trace: the demo is the first thing a newcomer runs.
try
{
    await using var app = DemoApp.Build(args);
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (e is DemoConfigurationException or OptionsValidationException)
{
    Console.Error.WriteLine($"Tessera demo cannot start: {e.Message}");
    return 1;
}
