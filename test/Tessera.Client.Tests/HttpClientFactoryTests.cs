using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Tessera.Testing;

namespace Tessera.Client.Tests;

/// <summary>
/// <c>AddHttpClient("api").AddTesseraTokenHandler(...)</c> against the demo: the handler pipelines
/// <c>IHttpClientFactory</c> builds as it rotates them share one refresh state.
/// </summary>
public sealed class HttpClientFactoryTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private DemoApi? _server;

    private DemoApi Server => _server ?? throw new InvalidOperationException("Not started.");

    public async ValueTask InitializeAsync() => _server = await DemoApi.StartAsync(_clock);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task HandlerPipelinesBuiltOneAfterAnotherShareOneStateAndRefreshOnceAcrossExpiry()
    {
        var store = new RecordingTokenStore();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddSingleton<ITesseraTokenStore>(store);
        services.AddHttpClient("api", client => client.BaseAddress = Server.BaseAddress)
            .AddTesseraTokenHandler(options => options.RefreshEndpoint = Server.RefreshEndpoint);
        await using var provider = services.BuildServiceProvider(validateScopes: true);

        // What IHttpClientFactory does when a handler's lifetime ends: a new builder, the client's actions, a new pipeline.
        var first = Pipeline(provider, "api");
        var second = Pipeline(provider, "api");
        Assert.NotSame(first.Handler, second.Handler);
        var session = provider.GetRequiredKeyedService<TesseraTokenSession>("api");
        Assert.Same(session, first.Handler.Session);
        Assert.Same(session, second.Handler.Session);
        Assert.Same(store, session.Store);

        using var factoryClient = provider.GetRequiredService<IHttpClientFactory>().CreateClient("api");
        using (var login = await factoryClient.PostAsJsonAsync("/api/login", new { user = "alice" }))
        {
            await session.SignInAsync(login, default);
        }
        _clock.Advance(TimeSpan.FromMinutes(6));

        using var one = new HttpClient(first.Pipeline) { BaseAddress = Server.BaseAddress };
        using var two = new HttpClient(second.Pipeline) { BaseAddress = Server.BaseAddress };
        var users = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => UserAsync(i % 2 == 0 ? one : two)));

        Assert.All(users, user => Assert.Equal("alice", user));
        Assert.Equal(1, Server.RefreshRequests);
        Assert.Equal(2, store.Saved.Count);
        Assert.NotEqual(store.Saved[0].RefreshToken, store.Saved[1].RefreshToken);
        Assert.Equal("alice", await UserAsync(factoryClient));
        Assert.Equal(1, Server.RefreshRequests);
    }

    [Fact]
    public async Task InvalidOptionsAreRefusedNamingEveryProblem()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("api").AddTesseraTokenHandler(options =>
        {
            options.RefreshEndpoint = new Uri("/api/refresh", UriKind.Relative);
            options.RefreshMargin = TimeSpan.FromSeconds(-1);
            options.RefreshTimeout = TimeSpan.Zero;
            options.MaxBufferedBodyBytes = -1;
        });
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredKeyedService<TesseraTokenSession>("api"));

        Assert.Equal(4, error.Failures.Count());
        Assert.Contains(error.Failures, failure => failure.Contains("RefreshEndpoint", StringComparison.Ordinal));
        Assert.Contains(error.Failures, failure => failure.Contains("RefreshMargin", StringComparison.Ordinal));
        Assert.Contains(error.Failures, failure => failure.Contains("RefreshTimeout", StringComparison.Ordinal));
        Assert.Contains(error.Failures, failure => failure.Contains("MaxBufferedBodyBytes", StringComparison.Ordinal));
        Assert.Throws<OptionsValidationException>(() => new TesseraTokenSession(new TesseraTokenClientOptions(), new HttpClient()));
    }

    private static (HttpMessageHandler Pipeline, TesseraTokenHandler Handler) Pipeline(IServiceProvider provider, string name)
    {
        var builder = provider.GetRequiredService<HttpMessageHandlerBuilder>();
        builder.Name = name;
        foreach (var action in provider.GetRequiredService<IOptionsMonitor<HttpClientFactoryOptions>>().Get(name).HttpMessageHandlerBuilderActions)
        {
            action(builder);
        }
        return (builder.Build(), builder.AdditionalHandlers.OfType<TesseraTokenHandler>().Single());
    }

    private static async Task<string?> UserAsync(HttpClient api) =>
        (await api.GetFromJsonAsync<JsonElement>("/api/me")).GetProperty("user").GetString();
}
