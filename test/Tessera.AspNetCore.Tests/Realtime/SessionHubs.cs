using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Tessera.AspNetCore.Tests.Realtime;

/// <summary>A hub whose methods use the caller's Tessera session.</summary>
public sealed class SessionHub : Hub
{
    /// <summary>Held by <see cref="WriteWhenReleased"/> between its load and its write; one test at a time uses it.</summary>
    internal static readonly HubGate Gate = new();

    public string Read(string key) => Context.GetTesseraSession().Get<string>(key) ?? "(none)";

    public void Write(string key, string value) => Context.GetTesseraSession().Set(key, value);

    public async Task WriteWhenReleased(string key, string value)
    {
        var session = Context.GetTesseraSession(); // loaded before the method ran
        await Gate.WaitAsync();
        session.Set(key, value);
    }

    public void SignInAs(string user) => Context.GetTesseraSession().SignIn(user);

    public string Who() => Context.User?.Identity is { IsAuthenticated: true } identity
        ? $"{identity.Name}|{Context.User.FindFirst(ClaimTypes.Email)?.Value}|{Context.User.FindFirst(TesseraAuthenticationDefaults.SessionIdClaimType)?.Value}"
        : "(anonymous)";

    [Authorize(Roles = "admin")]
    public string AdminOnly() => "admin";
}

/// <summary>A hub that only signed-in users reach.</summary>
[Authorize]
public sealed class SignedInHub : Hub
{
    public string Who() => Context.User?.Identity?.Name ?? "(none)";
}

/// <summary>Lets a test hold a hub method between its session's load and its write.</summary>
internal sealed class HubGate
{
    private TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Entered => _entered.Task;

    public void Reset()
    {
        _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public Task WaitAsync()
    {
        _entered.TrySetResult();
        return _released.Task;
    }

    public void Release() => _released.TrySetResult();
}

/// <summary>The hub test app: hubs, a plain WebSocket endpoint and a sign-in route with claims.</summary>
internal static class HubApp
{
    public const string SessionHubPath = "/hubs/session";
    public const string SignedInHubPath = "/hubs/signed-in";
    public const string TrustedOrigin = "http://trusted.example";

    public static void ConfigureServices(IServiceCollection services, Action<TesseraHubOptions>? hubOptions = null)
    {
        services.AddSignalR(options =>
        {
            options.EnableDetailedErrors = true; // the tests read the server's exception messages
            // The test clock is a fake one that the tests move by minutes; SignalR's own timeouts must not follow it.
            options.ClientTimeoutInterval = TimeSpan.FromHours(1);
        }).AddTesseraSessions(hubOptions);
        services.Configure<TesseraRequestOriginOptions>(options => options.TrustedOrigins.Add(TrustedOrigin));
    }

    public static void Map(WebApplication app)
    {
        app.UseWebSockets();
        app.MapHub<SessionHub>(SessionHubPath);
        app.MapHub<SignedInHub>(SignedInHubPath);
        app.Map("/ws", async (HttpContext context) =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                return Results.BadRequest();
            }
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "bye", context.RequestAborted);
            return Results.Empty;
        });
        app.MapPost("/hub-test/signin/{roles}", async (HttpContext context, string roles) =>
        {
            var identity = new ClaimsIdentity("Test.Password");
            identity.AddClaim(new Claim(ClaimTypes.NameIdentifier, "alice-id"));
            identity.AddClaim(new Claim(ClaimTypes.Name, "alice"));
            identity.AddClaim(new Claim(ClaimTypes.Email, "alice@example.com"));
            foreach (var role in roles.Split(',', StringSplitOptions.RemoveEmptyEntries).Where(r => r != "none"))
            {
                identity.AddClaim(new Claim(ClaimTypes.Role, role));
            }
            await context.SignInAsync(TesseraAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
            return "ok";
        });
    }

    /// <summary>A SignalR .NET client connection carrying a cookie header, an access token, or neither (WebSockets only).</summary>
    public static HubConnection Connect(Uri server, string path, string? cookie = null, string? accessToken = null) =>
        new HubConnectionBuilder()
            .WithUrl(new Uri(server, path), HttpTransportType.WebSockets, options =>
            {
                if (cookie is not null)
                {
                    options.Headers["Cookie"] = cookie;
                }
                if (accessToken is not null)
                {
                    options.AccessTokenProvider = () => Task.FromResult<string?>(accessToken);
                }
            })
            .Build();

    /// <summary><see cref="Connect"/>, started: the connection is open when this returns (and disposed if it cannot open).</summary>
    public static async Task<HubConnection> StartAsync(Uri server, string path, string? cookie = null, string? accessToken = null)
    {
        var connection = Connect(server, path, cookie, accessToken);
        try
        {
            await connection.StartAsync(TestContext.Current.CancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
