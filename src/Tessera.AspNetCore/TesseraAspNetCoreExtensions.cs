using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Tessera;
using Tessera.AspNetCore;

namespace Microsoft.Extensions.DependencyInjection
{
    /// <summary>Registers Tessera for ASP.NET Core.</summary>
    public static class TesseraServiceCollectionAspNetCoreExtensions
    {
        /// <summary>
        /// The configuration section bound to <see cref="TesseraOptions"/> (<c>Tessera</c>); its <c>Cookie</c> subsection
        /// binds <see cref="TesseraCookieOptions"/> and its <c>RequestOrigin</c> subsection
        /// <see cref="TesseraRequestOriginOptions"/>.
        /// </summary>
        public const string ConfigurationSection = "Tessera";

        private sealed class TesseraConfigurationMarker
        {
        }

        /// <summary>
        /// Adds Tessera: the session core (options bound from the <c>Tessera</c> configuration section and validated at
        /// start-up, the in-memory store unless another is chosen, cleanup) and the cookie transport. Replaces
        /// <c>AddSession()</c>; safe to call twice. Bearer tokens are off until
        /// <see cref="TesseraBuilderAspNetCoreExtensions.AddBearerTokens"/> is called, so an app whose
        /// <c>Authorization: Bearer</c> headers belong to another system (its identity provider's JWTs) keeps its cookie
        /// sessions on those requests.
        /// </summary>
        /// <param name="services">The services.</param>
        /// <param name="configure">Configures the session options; <see langword="null"/> leaves them to configuration.</param>
        /// <returns>A builder to choose a store and configure the cookie with.</returns>
        public static TesseraBuilder AddTessera(this IServiceCollection services, Action<TesseraOptions>? configure = null)
        {
            ArgumentNullException.ThrowIfNull(services);
            if (!services.Any(d => d.ServiceType == typeof(TesseraConfigurationMarker)))
            {
                // Configuration binds first, so code passed to AddTessera/ConfigureCookie wins over it.
                services.AddSingleton<TesseraConfigurationMarker>();
                services.AddOptions<TesseraOptions>().BindConfiguration(ConfigurationSection);
                services.AddOptions<TesseraCookieOptions>().BindConfiguration(ConfigurationSection + ":Cookie");
                services.AddOptions<TesseraRequestOriginOptions>().BindConfiguration(ConfigurationSection + ":RequestOrigin");
            }
            var builder = services.AddTesseraCore(configure);
            services.AddOptions<TesseraCookieOptions>().ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<TesseraCookieOptions>, TesseraCookieOptionsSetup>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TesseraCookieOptions>, TesseraCookieOptionsValidator>());
            services.AddOptions<TesseraRequestOriginOptions>().ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TesseraRequestOriginOptions>, TesseraRequestOriginOptionsValidator>());
            services.TryAddSingleton<CookieSessionTransport>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ISessionTransport, CookieSessionTransport>(sp => sp.GetRequiredService<CookieSessionTransport>()));
            services.TryAddSingleton<RequestSessionOpener>();
            return builder;
        }

        private sealed class TesseraAuthenticationMarker
        {
        }

        /// <summary>
        /// Adds authentication and authorization with Tessera as the default scheme
        /// (<see cref="TesseraAuthenticationDefaults.AuthenticationScheme"/>), so <c>[Authorize]</c>,
        /// <c>RequireAuthorization()</c> and <c>HttpContext.User</c> work for cookie and bearer sessions alike. Call
        /// <see cref="AddTessera(IServiceCollection, Action{TesseraOptions}?)"/> too. Safe to call twice. Place <c>app.UseAuthentication()</c> and
        /// <c>app.UseAuthorization()</c> after <c>app.UseTessera()</c> (either order works; the session is loaded once).
        /// To combine with other schemes, use <c>AddAuthentication(...).AddTessera()</c> instead.
        /// </summary>
        /// <param name="services">The services.</param>
        /// <returns>The services.</returns>
        public static IServiceCollection AddTesseraAuthentication(this IServiceCollection services)
        {
            ArgumentNullException.ThrowIfNull(services);
            services.AddAuthorization();
            if (services.Any(d => d.ServiceType == typeof(TesseraAuthenticationMarker)))
            {
                return services;
            }
            services.AddSingleton<TesseraAuthenticationMarker>();
            services.AddAuthentication(TesseraAuthenticationDefaults.AuthenticationScheme).AddTessera();
            return services;
        }
    }

    /// <summary>Registers Tessera's authentication handler with ASP.NET Core authentication.</summary>
    public static class TesseraAuthenticationBuilderExtensions
    {

        /// <summary>
        /// Adds Tessera's authentication handler under <see cref="TesseraAuthenticationDefaults.AuthenticationScheme"/>,
        /// a sign-in and sign-out handler too: <c>HttpContext.SignInAsync("Tessera", principal, properties)</c> signs the
        /// request's session in and keeps the principal in it, <c>SignOutAsync("Tessera")</c> destroys the session. A live
        /// session (cookie or bearer token) with a subject authenticates the request as the principal it was signed in
        /// with, plus a <c>sid</c> claim (the session id); a session signed in with <c>HttpSession.SignIn(subject)</c>
        /// gets the claims <see cref="System.Security.Claims.ClaimTypes.NameIdentifier"/> and
        /// <see cref="System.Security.Claims.ClaimTypes.Name"/> (the subject) and <c>sid</c>, with the authentication type
        /// <see cref="TesseraAuthenticationDefaults.CookieAuthenticationType"/> or
        /// <see cref="TesseraAuthenticationDefaults.BearerAuthenticationType"/>. A session without a subject is not
        /// authenticated. A challenge is a 401, with an RFC 6750 <c>WWW-Authenticate: Bearer</c> header on bearer
        /// requests and whenever bearer tokens are enabled; a forbid is a 403.
        /// </summary>
        /// <param name="builder">The authentication builder.</param>
        /// <param name="configure">Adjusts the scheme's options, or <see langword="null"/>.</param>
        /// <returns>The builder.</returns>
        public static AuthenticationBuilder AddTessera(this AuthenticationBuilder builder, Action<TesseraAuthenticationOptions>? configure = null) =>
            builder.AddTessera(TesseraAuthenticationDefaults.AuthenticationScheme, configure);

        /// <summary>Adds Tessera's authentication handler under another scheme name; see <see cref="AddTessera(AuthenticationBuilder, Action{TesseraAuthenticationOptions}?)"/>.</summary>
        /// <param name="builder">The authentication builder.</param>
        /// <param name="authenticationScheme">The scheme name.</param>
        /// <param name="configure">Adjusts the scheme's options, or <see langword="null"/>.</param>
        /// <returns>The builder.</returns>
        public static AuthenticationBuilder AddTessera(this AuthenticationBuilder builder, string authenticationScheme, Action<TesseraAuthenticationOptions>? configure = null)
        {
            ArgumentNullException.ThrowIfNull(builder);
            ArgumentException.ThrowIfNullOrEmpty(authenticationScheme);
            builder.Services.TryAddSingleton<RequestSessionOpener>();
            return builder.AddScheme<TesseraAuthenticationOptions, TesseraAuthenticationHandler>(authenticationScheme, configure);
        }
    }
}

namespace Tessera
{
    using Microsoft.Extensions.DependencyInjection;

    /// <summary>ASP.NET Core additions to <see cref="TesseraBuilder"/>.</summary>
    public static class TesseraBuilderAspNetCoreExtensions
    {
        /// <summary>Configures the session cookie.</summary>
        /// <param name="builder">The builder.</param>
        /// <param name="configure">Changes the cookie options; see <see cref="TesseraCookieOptions"/> for defaults.</param>
        /// <returns>The builder.</returns>
        public static TesseraBuilder ConfigureCookie(this TesseraBuilder builder, Action<TesseraCookieOptions> configure)
        {
            ArgumentNullException.ThrowIfNull(builder);
            ArgumentNullException.ThrowIfNull(configure);
            builder.Services.Configure(configure);
            return builder;
        }

        /// <summary>
        /// Configures the request-origin guard, which refuses cross-origin unsafe requests that carry the session cookie
        /// (on by default; see <see cref="TesseraRequestOriginOptions"/> for the rules and defaults).
        /// </summary>
        /// <param name="builder">The builder.</param>
        /// <param name="configure">Changes the guard's options: turn it off, allow same-site requests, trust origins.</param>
        /// <returns>The builder.</returns>
        public static TesseraBuilder ConfigureRequestOrigin(this TesseraBuilder builder, Action<TesseraRequestOriginOptions> configure)
        {
            ArgumentNullException.ThrowIfNull(builder);
            ArgumentNullException.ThrowIfNull(configure);
            builder.Services.Configure(configure);
            return builder;
        }

        /// <summary>
        /// Turns on bearer-token sessions: a request with <c>Authorization: Bearer &lt;access token&gt;</c> opens the
        /// token's session (lazily, like a cookie) through <see cref="BearerSessionTransport"/>, and never sets or clears a
        /// cookie; every other request keeps the cookie. Off by default; safe to call twice. The store must implement
        /// <see cref="Tokens.ISessionTokenStore"/>; mint pairs with <see cref="SessionManager.Tokens"/> and map refresh and
        /// logout with <c>MapTesseraTokenEndpoints</c>.
        /// </summary>
        /// <param name="builder">The builder.</param>
        /// <returns>The builder.</returns>
        public static TesseraBuilder AddBearerTokens(this TesseraBuilder builder)
        {
            ArgumentNullException.ThrowIfNull(builder);
            builder.Services.TryAddSingleton<BearerSessionTransport>();
            builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ISessionTransport, BearerSessionTransport>(sp => sp.GetRequiredService<BearerSessionTransport>()));
            return builder;
        }
    }
}

namespace Microsoft.AspNetCore.Builder
{
    /// <summary>Adds Tessera's middleware.</summary>
    public static class TesseraApplicationBuilderExtensions
    {
        private const string AddedKey = "Tessera.MiddlewareAdded";

        /// <summary>
        /// Adds the session middleware (replaces <c>UseSession()</c>). Place it after <c>UseRouting()</c> when endpoints
        /// disable sessions or the origin check, after <c>UseForwardedHeaders()</c> behind a proxy (the request-origin
        /// guard compares <c>Origin</c> with the host the app sees; see <see cref="TesseraRequestOriginOptions"/>), and
        /// after <c>UseStaticFiles()</c> (static files never touch the session either way). A second call does nothing.
        /// </summary>
        /// <param name="app">The application.</param>
        /// <returns>The application.</returns>
        public static IApplicationBuilder UseTessera(this IApplicationBuilder app)
        {
            ArgumentNullException.ThrowIfNull(app);
            if (app.Properties.ContainsKey(AddedKey))
            {
                return app;
            }
            app.Properties[AddedKey] = true;
            return app.UseMiddleware<TesseraMiddleware>();
        }
    }
}
