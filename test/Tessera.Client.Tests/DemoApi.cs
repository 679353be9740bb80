using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Demo;

namespace Tessera.Client.Tests;

/// <summary>
/// The demo app (memory store) on a real Kestrel port with Tessera on the given clock, counting the refresh requests
/// that reach it: the server's own count, not the client's.
/// </summary>
internal sealed class DemoApi : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly DirectoryInfo _dataDirectory;
    private readonly RefreshCounter _refreshes;

    private DemoApi(WebApplication app, DirectoryInfo dataDirectory, RefreshCounter refreshes)
    {
        _app = app;
        _dataDirectory = dataDirectory;
        _refreshes = refreshes;
        BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());
    }

    public Uri BaseAddress { get; }

    public Uri RefreshEndpoint => new(BaseAddress, "/api/refresh");

    /// <summary>How many <c>POST /api/refresh</c> requests reached the server.</summary>
    public int RefreshRequests => _refreshes.Count;

    public static async Task<DemoApi> StartAsync(TimeProvider clock)
    {
        var dataDirectory = Directory.CreateTempSubdirectory("tessera-client-tests-");
        var refreshes = new RefreshCounter();
        var app = DemoApp.Build(
            [
                "--urls", "http://127.0.0.1:0",
                "--environment", "Development",
                "--Tessera:Store=memory",
                $"--Demo:DataDirectory={dataDirectory.FullName}",
                "--Logging:LogLevel:Default=Warning",
            ],
            services =>
            {
                services.AddSingleton(clock);
                services.AddSingleton<IStartupFilter>(refreshes);
            });
        await app.StartAsync();
        return new DemoApi(app, dataDirectory, refreshes);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _dataDirectory.Delete(recursive: true);
    }

    /// <summary>Counts refresh requests first thing in the pipeline, whatever the endpoint answers.</summary>
    private sealed class RefreshCounter : IStartupFilter
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (HttpMethods.IsPost(context.Request.Method) && context.Request.Path.Equals("/api/refresh", StringComparison.OrdinalIgnoreCase))
                {
                    Interlocked.Increment(ref _count);
                }
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
