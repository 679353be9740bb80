namespace Tessera.Demo;

/// <summary>The demo's log messages. A signing key, cookie value or session id never appears in them.</summary>
internal static partial class DemoLog
{
    [LoggerMessage(1, LogLevel.Information, "Development signing key {Action} {Path} (set Tessera:Keys to use your own).")]
    public static partial void DevelopmentKey(ILogger logger, string action, string path);

    [LoggerMessage(2, LogLevel.Information, "Tessera demo starting in {Environment} with the {Store} store: {Location}.")]
    public static partial void Starting(ILogger logger, string environment, string store, string location);

    [LoggerMessage(3, LogLevel.Information, "Neither ASPNETCORE_ENVIRONMENT nor DOTNET_ENVIRONMENT is set, so the demo runs in Development: a signing key is generated in the data directory and /admin/stats answers on loopback. For production behaviour set ASPNETCORE_ENVIRONMENT=Production (or pass --environment Production) with Tessera:Keys.")]
    public static partial void DefaultedToDevelopment(ILogger logger);

    // 10 and up: operator access. Nothing that could help a guess: no password, no length, no hash.
    [LoggerMessage(10, LogLevel.Warning, "Operator sign-in refused from {Client}: wrong password.")]
    public static partial void OperatorSignInRefused(ILogger logger, string client);

    [LoggerMessage(11, LogLevel.Information, "Operator signed in from {Client}.")]
    public static partial void OperatorSignedIn(ILogger logger, string client);
}
