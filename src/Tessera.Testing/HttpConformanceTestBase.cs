using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// What the HTTP conformance suites share: a fake clock, the store kit, the store under test wrapped to count its
/// calls, a signing key, and real Kestrel servers that are stopped (and the store disposed) when each test ends.
/// </summary>
public abstract class HttpConformanceTestBase<TKit> : IAsyncLifetime
    where TKit : StoreKit, new()
{
    private readonly List<IAsyncDisposable> _servers = [];

    /// <summary>The clock every store and server of the test runs on.</summary>
    protected FakeTimeProvider Clock { get; } = new(TestClock.Start);

    /// <summary>The kit that makes the test's stores; disposed (with every store it made) when the test ends.</summary>
    protected TKit Kit { get; } = new();

    /// <summary>The store under test, wrapped so the suite can count its reads and writes.</summary>
    protected CountingSessionStore Store { get; private set; } = null!;

    /// <summary>The signing key the servers use unless a test says otherwise.</summary>
    protected string Key { get; } = SigningKeyRing.GenerateBase64Key();

    /// <summary>Creates an empty store on <see cref="Clock"/> through <see cref="Kit"/>, isolated from every store returned before.</summary>
    /// <returns>The store.</returns>
    protected virtual ISessionStore CreateStore() => Kit.CreateStore(Clock);

    /// <summary>
    /// Registers services the store needs in every server the test starts (after Tessera's): the kit's
    /// <see cref="StoreKit.ConfigureServices"/> by default.
    /// </summary>
    /// <param name="services">The server's services.</param>
    protected virtual void ConfigureServices(Microsoft.Extensions.DependencyInjection.IServiceCollection services) => Kit.ConfigureServices(services);

    /// <summary>Creates the store for the test.</summary>
    /// <returns>A completed task.</returns>
    public virtual ValueTask InitializeAsync()
    {
        Store = new CountingSessionStore(CreateStore());
        return ValueTask.CompletedTask;
    }

    /// <summary>Stops every server the test started, then disposes the kit (and with it every store it made).</summary>
    /// <returns>A task.</returns>
    public virtual async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
        await Kit.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Starts a server over a given store (say, <see cref="Store"/> wrapped in a fault injector) on <see cref="Clock"/>
    /// with <see cref="Key"/>; it is stopped when the test ends.
    /// </summary>
    /// <param name="store">The store the server uses.</param>
    /// <param name="configure">Further option changes, or <see langword="null"/>.</param>
    /// <param name="mapExtraRoutes">More routes, or <see langword="null"/>.</param>
    /// <param name="bearerTokens">Whether bearer-token sessions and the <c>/tokens</c> endpoints are on.</param>
    /// <param name="authentication">Whether Tessera authentication is the default scheme.</param>
    /// <returns>The server.</returns>
    protected async Task<TesseraTestServer> StartTestServerAsync(ISessionStore store, Action<TesseraOptions>? configure, Action<Microsoft.AspNetCore.Builder.WebApplication>? mapExtraRoutes = null, bool bearerTokens = false, bool authentication = false)
    {
        var server = await TesseraTestServer.StartAsync(store, Clock, [Key], configure: configure, mapExtraRoutes: mapExtraRoutes, bearerTokens: bearerTokens, authentication: authentication, configureServices: ConfigureServices);
        _servers.Add(server);
        return server;
    }

    /// <summary>Starts a server over <see cref="Store"/> on <see cref="Clock"/>; it is stopped when the test ends.</summary>
    /// <param name="keys">Signing keys, or <see langword="null"/> for <see cref="Key"/>.</param>
    /// <param name="environment">The host environment. Default <c>Production</c>.</param>
    /// <param name="bearerTokens">Whether bearer-token sessions are on too (the store must implement <see cref="Tokens.ISessionTokenStore"/>).</param>
    /// <param name="authentication">Whether Tessera authentication is the default scheme.</param>
    /// <returns>The server.</returns>
    protected async Task<TesseraTestServer> StartTestServerAsync(IEnumerable<string>? keys = null, string environment = "Production", bool bearerTokens = false, bool authentication = false)
    {
        var server = await TesseraTestServer.StartAsync(Store, Clock, keys ?? [Key], environment, bearerTokens: bearerTokens, authentication: authentication, configureServices: ConfigureServices);
        _servers.Add(server);
        return server;
    }
}
