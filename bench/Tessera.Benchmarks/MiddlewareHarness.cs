using Microsoft.Extensions.Time.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Net.Http.Headers;
using Tessera.AspNetCore;
using Tessera.Testing;

namespace Tessera.Benchmarks;

/// <summary>
/// <see cref="TesseraMiddleware"/> built from the services <c>AddTessera()</c> registers (Production environment,
/// memory store, manual clock), with one signed-in session and an endpoint that loads the session and reads its
/// subject. Requests are <see cref="DefaultHttpContext"/> objects invoked directly: no server, no routing.
/// </summary>
public sealed class MiddlewareHarness : IDisposable
{
    private readonly IHost _host;
    private readonly string _cookieHeader;

    /// <summary>Builds the services and stores the session.</summary>
    public MiddlewareHarness()
    {
        var clock = new FakeTimeProvider(TestClock.Start);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddTessera(options =>
        {
            options.Keys.Add(BenchSessions.Key);
            options.CleanupEnabled = false;
        }).UseStore(_ => new InMemorySessionStore(clock));
        _host = builder.Build();
        var services = _host.Services;
        Manager = services.GetRequiredService<SessionManager>();
        Middleware = new TesseraMiddleware(ReadSubjectAsync, Manager, services.GetServices<ISessionTransport>());
        Cookie = BenchSessions.CreateLiveAsync(Manager, clock, "alice").GetAwaiter().GetResult();
        _cookieHeader = $"{services.GetRequiredService<CookieSessionTransport>().CookieName}={Cookie}";
    }

    /// <summary>The session manager behind the middleware (its store is the memory store).</summary>
    public SessionManager Manager { get; }

    /// <summary>The signed-in session's cookie value.</summary>
    public string Cookie { get; }

    /// <summary>The middleware, whose next step is the endpoint.</summary>
    public TesseraMiddleware Middleware { get; }

    /// <summary>
    /// A GET request carrying the session cookie. With <paramref name="prepared"/>, the request's own objects a server
    /// makes for every request with or without Tessera are made now too: the parsed cookie collection and the
    /// cancellation token feature.
    /// </summary>
    public DefaultHttpContext NewRequest(bool prepared = false)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Get;
        context.Request.Path = "/whoami";
        context.Request.Headers[HeaderNames.Cookie] = _cookieHeader;
        if (prepared)
        {
            _ = context.Request.Cookies.Count;
            _ = context.RequestAborted;
        }
        return context;
    }

    /// <summary>The subject the endpoint read last (kept here, not in the request, so the endpoint allocates nothing).</summary>
    public string? LastSubject { get; private set; }

    /// <summary>The endpoint alone, as it runs when no Tessera middleware put a session on the request: it does nothing.</summary>
    public Task Endpoint(HttpContext context) =>
        context.Features.Get<ITesseraSessionFeature>() is null ? Task.CompletedTask : ReadSubjectAsync(context);

    /// <inheritdoc />
    public void Dispose() => _host.Dispose();

    private async Task ReadSubjectAsync(HttpContext context)
    {
        var session = context.GetTesseraSession();
        await session.LoadAsync(context.RequestAborted);
        LastSubject = session.Subject;
    }
}
