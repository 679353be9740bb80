using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;
using Tessera.Demo;

// `dotnet run -- hash-operator-password` prints the hash for Demo:OperatorPasswordHash instead of starting the demo.
if (args is [OperatorPassword.HashCommand])
{
    return OperatorPassword.RunHashCommand(Console.In, Console.Out, Console.Error, terminal: !Console.IsInputRedirected);
}

// Configuration mistakes (an unknown store, a missing production key) end start-up with one readable line, not a
// stack trace: the demo is the first thing a newcomer runs.
WebApplication? app = null;
try
{
    app = DemoApp.Build(args);
    // Reaches the store before the host starts, so an unreachable or silent database is one line below, not a stack trace.
    await DemoApp.PrepareStoreAsync(app);
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (e is DemoConfigurationException or OptionsValidationException or DemoStoreUnavailableException)
{
    Console.Error.WriteLine($"Tessera demo cannot start: {e.Message}");
    return 1;
}
catch (NpgsqlException e)
{
    // Start-up migrations (Tessera:Store=postgres) could not reach or use the database. Npgsql's messages name the
    // host and the reason ("Failed to connect to 127.0.0.1:5432", "password authentication failed"), never a password.
    var reason = e.InnerException is { } inner && inner.Message != e.Message ? $"{e.Message} ({inner.Message})" : e.Message;
    Console.Error.WriteLine($"Tessera demo cannot start: PostgreSQL (ConnectionStrings:Postgres) could not be reached or its session tables could not be created: {reason}");
    return 1;
}
catch (RedisException e)
{
    // Tessera:Store=redis and the server failed after start-up reached it (PrepareStoreAsync reports an unreachable or
    // refusing one): say so in one line. StackExchange.Redis's messages name endpoints, never the configuration string
    // and so never its password.
    Console.Error.WriteLine($"Tessera demo cannot start: Redis (ConnectionStrings:Redis) could not be used: {e.Message.ReplaceLineEndings(" ")}");
    return 1;
}
finally
{
    if (app is not null)
    {
        // Runs after the line above: a store client still waiting on a silent server gets a few seconds to let go, so
        // it cannot hold the exit.
        try
        {
            await app.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            // The process exits regardless.
        }
    }
}
