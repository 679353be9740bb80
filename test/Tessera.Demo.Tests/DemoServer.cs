using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Tessera.Demo.Tests;

/// <summary>The demo app, built by <see cref="DemoApp.Build"/> exactly as Program.cs builds it, on a real Kestrel port.</summary>
internal sealed class DemoServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TempDirectory? _ownedDataDirectory;

    private DemoServer(WebApplication app, Uri baseAddress, string dataDirectory, TempDirectory? ownedDataDirectory)
    {
        _app = app;
        BaseAddress = baseAddress;
        DataDirectory = dataDirectory;
        _ownedDataDirectory = ownedDataDirectory;
    }

    public Uri BaseAddress { get; }

    public string DataDirectory { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The demo's arguments for a test: a random loopback port, quiet logs, a data directory of its own.</summary>
    public static string[] Arguments(string store, string environment, string dataDirectory, params string[] extra) =>
    [
        "--urls", "http://127.0.0.1:0",
        "--environment", environment,
        $"--Tessera:Store={store}",
        $"--Demo:DataDirectory={dataDirectory}",
        "--Logging:LogLevel:Default=Warning",
        .. extra,
    ];

    /// <summary>Starts the demo; a null <paramref name="dataDirectory"/> gets a temporary one, deleted on dispose.</summary>
    public static Task<DemoServer> StartAsync(string store = "memory", string environment = "Development", string? dataDirectory = null, params string[] extra) =>
        StartWithClockAsync(store, clock: null, environment, dataDirectory, extra);

    /// <summary>Starts the demo with Tessera on <paramref name="clock"/> (the tests move it instead of sleeping).</summary>
    public static Task<DemoServer> StartWithClockAsync(string store, TimeProvider? clock, string environment = "Development", string? dataDirectory = null, params string[] extra) =>
        StartWithServicesAsync(store, clock, configureServices: null, environment, dataDirectory, extra);

    /// <summary>Starts the demo with Tessera on <paramref name="clock"/> and the test's own services (a request counter) added last.</summary>
    public static async Task<DemoServer> StartWithServicesAsync(string store, TimeProvider? clock, Action<IServiceCollection>? configureServices, string environment = "Development", string? dataDirectory = null, params string[] extra)
    {
        var owned = dataDirectory is null ? new TempDirectory() : null;
        var directory = dataDirectory ?? owned!.Path;
        WebApplication? app = null;
        try
        {
            app = DemoApp.Build(Arguments(store, environment, directory, extra), services =>
            {
                if (clock is not null)
                {
                    services.AddSingleton(clock);
                }
                configureServices?.Invoke(services);
            });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
            return new DemoServer(app, new Uri(address), directory, owned);
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync();
            }
            owned?.Dispose();
            throw;
        }
    }

    public DemoClient CreateClient() => new(BaseAddress);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _ownedDataDirectory?.Dispose();
    }
}
