using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Tessera.Testing.OpenIdConnect;

/// <summary>
/// A real OpenID Connect provider for the tests: OpenIddict's server on its own Kestrel over HTTPS, addressed as
/// <c>https://localhost:port/</c> (another site than an app on <c>127.0.0.1</c>) or <c>https://127.0.0.1:port/</c>, with the authorization code flow and
/// PKCE required, its client applications and codes in EF Core's in-memory database, and one user.
/// </summary>
/// <remarks>
/// Its login is a page that signs <see cref="Subject"/> in with the provider's own cookie and goes back to the
/// authorization endpoint; consent is implicit. The authorization endpoint issues the user's <c>sub</c>,
/// <c>name</c>, <c>email</c> and <c>role</c> claims into the identity token (and the access token). Dispose it to stop it.
/// </remarks>
public sealed class OpenIddictProvider : IAsyncDisposable
{
    /// <summary>The user's subject (<c>sub</c>).</summary>
    public const string Subject = "user-7f3a";

    /// <summary>The user's name (<c>name</c>).</summary>
    public const string Name = "Ada Lovelace";

    /// <summary>The user's email address (<c>email</c>).</summary>
    public const string Email = "ada@example.org";

    /// <summary>The user's one role (<c>role</c>).</summary>
    public const string Role = "operator";

    private const string LoginPath = "/login";
    private readonly WebApplication _app;
    private int _logins;

    private OpenIddictProvider(WebApplication app, Uri issuer)
    {
        _app = app;
        Issuer = issuer;
    }

    /// <summary>The issuer, <c>https://host:port/</c> (the authority a client configures).</summary>
    public Uri Issuer { get; }

    /// <summary>How many times the login page signed the user in.</summary>
    public int Logins => _logins;

    /// <summary>Starts a provider serving <paramref name="certificate"/>.</summary>
    /// <param name="certificate">The TLS certificate (for <c>localhost</c> and <c>127.0.0.1</c>).</param>
    /// <param name="host">
    /// The host name the provider is addressed by: <c>localhost</c> (default), another site than an app on
    /// <c>127.0.0.1</c>; or <c>127.0.0.1</c>, the app's own site.
    /// </param>
    /// <returns>The started provider.</returns>
    public static async Task<OpenIddictProvider> StartAsync(TestCertificate certificate, string host = "localhost")
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate.Certificate)));
        builder.Logging.ClearProviders();
        var database = Guid.NewGuid().ToString("N");
        builder.Services.AddDbContext<DbContext>(options => options.UseInMemoryDatabase(database).UseOpenIddict());
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(options => options.LoginPath = LoginPath);
        builder.Services.AddAuthorization();
        builder.Services.AddOpenIddict()
            .AddCore(options => options.UseEntityFrameworkCore().UseDbContext<DbContext>())
            .AddServer(options =>
            {
                options.SetAuthorizationEndpointUris("connect/authorize").SetTokenEndpointUris("connect/token");
                options.AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange();
                options.RegisterScopes(Scopes.OpenId, Scopes.Profile, Scopes.Email, Scopes.Roles);
                options.AddEphemeralEncryptionKey().AddEphemeralSigningKey();
                options.UseAspNetCore().EnableAuthorizationEndpointPassthrough();
            });
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        var provider = default(OpenIddictProvider);
        app.MapMethods("/connect/authorize", [HttpMethods.Get, HttpMethods.Post], (Delegate)AuthorizeAsync);
        app.MapGet(LoginPath, async (HttpContext context, string? returnUrl) =>
        {
            Interlocked.Increment(ref provider!._logins);
            var user = new ClaimsIdentity([new Claim(Claims.Subject, Subject)], CookieAuthenticationDefaults.AuthenticationScheme);
            await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(user));
            return Results.LocalRedirect(returnUrl ?? "/");
        });
        await app.StartAsync();
        var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        provider = new OpenIddictProvider(app, new Uri($"https://{host}:{port}/"));
        return provider;
    }

    /// <summary>
    /// Registers a confidential client allowed the authorization code flow (PKCE required) with the <c>openid</c>,
    /// <c>profile</c>, <c>email</c> and <c>roles</c> scopes, and one redirect URI.
    /// </summary>
    /// <param name="clientId">The client id.</param>
    /// <param name="clientSecret">The client secret.</param>
    /// <param name="redirectUri">The client's callback, such as <c>https://127.0.0.1:port/signin-oidc</c>.</param>
    /// <returns>A task.</returns>
    public async Task RegisterClientAsync(string clientId, string clientSecret, Uri redirectUri)
    {
        await using var scope = _app.Services.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        await applications.CreateAsync(new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientSecret = clientSecret,
            ClientType = ClientTypes.Confidential,
            ConsentType = ConsentTypes.Implicit,
            RedirectUris = { redirectUri },
            Permissions =
            {
                Permissions.Endpoints.Authorization,
                Permissions.Endpoints.Token,
                Permissions.GrantTypes.AuthorizationCode,
                Permissions.ResponseTypes.Code,
                Permissions.Scopes.Profile,
                Permissions.Scopes.Email,
                Permissions.Scopes.Roles,
            },
            Requirements = { Requirements.Features.ProofKeyForCodeExchange },
        });
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    // The authorization endpoint (passthrough): the provider's login first, then the user's claims, all into the
    // identity token, for the scopes the client asked for.
    private static async Task<IResult> AuthorizeAsync(HttpContext context)
    {
        var request = context.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenID Connect request.");
        var login = await context.AuthenticateAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        if (!login.Succeeded)
        {
            var here = context.Request.PathBase + context.Request.Path + QueryString.Create(context.Request.HasFormContentType ? [.. context.Request.Form] : [.. context.Request.Query]);
            return Results.Challenge(new AuthenticationProperties { RedirectUri = here }, [CookieAuthenticationDefaults.AuthenticationScheme]);
        }
        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, Subject).SetClaim(Claims.Name, Name).SetClaim(Claims.Email, Email).SetClaims(Claims.Role, [Role]);
        identity.SetScopes(request.GetScopes());
        identity.SetDestinations(_ => [Destinations.AccessToken, Destinations.IdentityToken]);
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }
}
