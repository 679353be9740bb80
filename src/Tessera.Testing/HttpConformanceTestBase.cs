using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// What the HTTP conformance suites share: a fake clock, the store kit, the store under test wrapped to count its
/// calls, a signing key, and real Kestrel servers that are stopped (and the store disposed, and temporary directories
/// removed) when each test ends.
/// </summary>
public abstract class HttpConformanceTestBase<TKit> : IAsyncLifetime
    where TKit : StoreKit, new()
{
    /// <summary>
    /// What a sign-in with a principal that has no subject (no name identifier, no <c>sub</c> claim, no name) throws,
    /// after the words that say which sign-in it was.
    /// </summary>
    protected const string NoSubjectMessage =
        "needs a subject for the session: the principal has no 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier' claim, no 'sub' claim and no name";

    private readonly List<IAsyncDisposable> _servers = [];
    private readonly List<DirectoryInfo> _directories = [];

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
    protected virtual void ConfigureServices(IServiceCollection services) => Kit.ConfigureServices(services);

    /// <summary>Creates the store for the test.</summary>
    /// <returns>A completed task.</returns>
    public virtual ValueTask InitializeAsync()
    {
        Store = new CountingSessionStore(CreateStore());
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Stops every server the test started, then disposes the kit (and with it every store it made) and removes the
    /// temporary directories.
    /// </summary>
    /// <returns>A task.</returns>
    public virtual async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
        await Kit.DisposeAsync();
        foreach (var directory in _directories.Where(d => Directory.Exists(d.FullName)))
        {
            directory.Delete(recursive: true);
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>Creates an empty directory under the system's temporary folder; it is removed when the test ends.</summary>
    /// <returns>The directory.</returns>
    protected DirectoryInfo CreateTemporaryDirectory()
    {
        var directory = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "tessera-test-" + Guid.NewGuid().ToString("N")));
        _directories.Add(directory);
        return directory;
    }

    /// <summary>
    /// Posts a sign-in that must be refused for want of a subject, to a route that answers the refusal with a 400 and
    /// the exception's message, and asserts that it was: the message names the claims looked for, no cookie is set and
    /// the store was not written.
    /// </summary>
    /// <param name="client">The client.</param>
    /// <param name="path">The sign-in route.</param>
    /// <returns>A task.</returns>
    protected async Task AssertSignInRefusedForWantOfASubjectAsync(CookieClient client, string path)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var response = await client.SendAsync(HttpMethod.Post, path, new ByteArrayContent([]));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(NoSubjectMessage, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null(client.Cookie);
        Assert.Equal(0, Store.Writes);
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
        lock (_servers)
        {
            _servers.Add(server); // servers may start side by side (Task.WhenAll)
        }
        return server;
    }

    /// <summary>
    /// Starts a server over a given store on <see cref="Clock"/> with the given keys and services (instead of
    /// <see cref="ConfigureServices"/>, which <paramref name="configureServices"/> may call); it is stopped when the test ends.
    /// </summary>
    /// <param name="store">The store the server uses.</param>
    /// <param name="keys">Signing keys (<c>Tessera:Keys</c>); empty for none.</param>
    /// <param name="configureServices">Registers the server's services after Tessera's.</param>
    /// <param name="configure">Further option changes, or <see langword="null"/>.</param>
    /// <param name="bearerTokens">Whether bearer-token sessions and the <c>/tokens</c> endpoints are on.</param>
    /// <param name="mapExtraRoutes">More routes (a hub, say), or <see langword="null"/>.</param>
    /// <param name="authentication">Whether Tessera authentication is the default scheme.</param>
    /// <returns>The server.</returns>
    protected async Task<TesseraTestServer> StartTestServerAsync(ISessionStore store, IEnumerable<string> keys, Action<IServiceCollection> configureServices, Action<TesseraOptions>? configure = null, bool bearerTokens = false, Action<Microsoft.AspNetCore.Builder.WebApplication>? mapExtraRoutes = null, bool authentication = false)
    {
        var server = await TesseraTestServer.StartAsync(store, Clock, keys, configure: configure, mapExtraRoutes: mapExtraRoutes, bearerTokens: bearerTokens, authentication: authentication, configureServices: configureServices);
        lock (_servers)
        {
            _servers.Add(server); // servers may start side by side (Task.WhenAll)
        }
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
        lock (_servers)
        {
            _servers.Add(server); // servers may start side by side (Task.WhenAll)
        }
        return server;
    }
}
