using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Tessera.AspNetCore;

namespace Tessera.Testing.OpenIdConnect;

/// <summary>
/// An application that signs its users in with OpenID Connect into Tessera sessions, as the docs show it:
/// <c>AddAuthentication("Tessera").AddTessera().AddOpenIdConnect(...)</c> with <c>SignInScheme = "Tessera"</c>,
/// <c>SaveTokens</c>, the code flow (PKCE by default), on its own Kestrel over HTTPS at <c>https://127.0.0.1:port/</c>.
/// Dispose it to stop it.
/// </summary>
public sealed class OpenIdConnectTesseraApp : IAsyncDisposable
{
    /// <summary>The OpenID Connect scheme's name.</summary>
    public const string OidcScheme = "oidc";

    /// <summary>The client id the application has at the provider.</summary>
    public const string ClientId = "tessera-app";

    private const string ClientSecret = "tessera-app-secret-for-tests";
    private readonly WebApplication _app;

    private OpenIdConnectTesseraApp(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The application's base address.</summary>
    public Uri Address { get; }

    /// <summary>The Tessera session cookie's name.</summary>
    public string CookieName => _app.Services.GetRequiredService<CookieSessionTransport>().CookieName;

    /// <summary>
    /// Starts the application over <paramref name="store"/> and registers it as a client of <paramref name="provider"/>.
    /// </summary>
    /// <param name="store">The Tessera store.</param>
    /// <param name="clock">Tessera's (and the authentication handlers') clock.</param>
    /// <param name="key">The Tessera signing key.</param>
    /// <param name="provider">The OpenID Connect provider.</param>
    /// <param name="certificate">The TLS certificate (for <c>127.0.0.1</c>), also the only root its back channel trusts.</param>
    /// <param name="responseMode">The OpenID Connect response mode: <c>query</c> or <c>form_post</c> (the handler's default).</param>
    /// <param name="configureServices">Registers the store's services (the kit's), or <see langword="null"/>.</param>
    /// <returns>The started application.</returns>
    public static async Task<OpenIdConnectTesseraApp> StartAsync(ISessionStore store, TimeProvider clock, string key, OpenIddictProvider provider, TestCertificate certificate, string responseMode, Action<IServiceCollection>? configureServices)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(certificate);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate.Certificate)));
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(clock);
        builder.Services.AddTessera(options =>
        {
            options.Keys.Add(key);
            options.CleanupEnabled = false;
        }).UseStore(_ => store);
        builder.Services.AddAuthorization();
        builder.Services.AddAuthentication(TesseraAuthenticationDefaults.AuthenticationScheme)
            .AddTessera()
            .AddOpenIdConnect(OidcScheme, options =>
            {
                options.SignInScheme = TesseraAuthenticationDefaults.AuthenticationScheme;
                options.Authority = provider.Issuer.ToString();
                options.ClientId = ClientId;
                options.ClientSecret = ClientSecret;
                options.ResponseType = OpenIdConnectResponseType.Code;
                options.ResponseMode = responseMode;
                options.Scope.Add("email");
                options.Scope.Add("roles");
                options.SaveTokens = true;
                // Inbound mapping turns sub, email and role into the ClaimTypes URIs but leaves name as "name".
                options.TokenValidationParameters.NameClaimType = "name";
                options.BackchannelHttpHandler = certificate.CreateHandler();
            });
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.UseTessera();
        app.UseAuthentication();
        app.UseAuthorization();
        MapRoutes(app);
        await app.StartAsync();
        var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        var started = new OpenIdConnectTesseraApp(app, new Uri($"https://127.0.0.1:{port}/"));
        await provider.RegisterClientAsync(ClientId, ClientSecret, new Uri(started.Address, "/signin-oidc"));
        return started;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static void MapRoutes(WebApplication app)
    {
        app.MapPost("/cart/{item}", (HttpSession session, string item) =>
        {
            session.Set("cart", item);
            return "ok";
        });
        app.MapGet("/cart", (HttpSession session) => session.Get<string>("cart") ?? "(none)");
        app.MapGet("/id", (HttpSession session) => session.IsNew ? "(new)" : session.Id);
        app.MapGet("/whoami", (HttpSession session) => session.Subject ?? "(anonymous)");
        app.MapGet("/login", (string returnUrl) => Results.Challenge(new AuthenticationProperties { RedirectUri = returnUrl }, [OidcScheme]));
        // The user as authorization sees it, one "name=value" a line: identity, subject, the claims the test looks for,
        // and the names of the tokens the sign-in saved (never their values).
        app.MapGet("/profile", [Authorize(Roles = OpenIddictProvider.Role)] async (HttpContext context, HttpSession session) =>
        {
            var user = context.User;
            var result = await context.AuthenticateAsync();
            var accessToken = await context.GetTokenAsync("access_token");
            return string.Join('\n',
                $"authenticationType={user.Identity?.AuthenticationType}",
                $"subject={session.Subject}",
                $"nameIdentifier={user.FindFirst(ClaimTypes.NameIdentifier)?.Value}",
                $"name={user.Identity?.Name}",
                $"email={user.FindFirst(ClaimTypes.Email)?.Value}",
                $"roles={string.Join(',', user.FindAll(ClaimTypes.Role).Select(c => c.Value))}",
                $"issuer={user.FindFirst(ClaimTypes.NameIdentifier)?.Issuer}",
                $"sid={user.FindFirst(TesseraAuthenticationDefaults.SessionIdClaimType)?.Value}",
                $"tokens={string.Join(',', result.Properties?.GetTokens().Select(t => t.Name).Order(StringComparer.Ordinal) ?? Enumerable.Empty<string>())}",
                $"items={string.Join(',', result.Properties?.Items.Keys.Order(StringComparer.Ordinal) ?? Enumerable.Empty<string>())}",
                $"accessTokenLength={accessToken?.Length ?? 0}");
        });
        app.MapGet("/operators", [Authorize(Roles = "someone-else")] () => "never");
        app.MapPost("/logout", async (HttpContext context) =>
        {
            await context.SignOutAsync(TesseraAuthenticationDefaults.AuthenticationScheme);
            return "signed out";
        });
    }
}
