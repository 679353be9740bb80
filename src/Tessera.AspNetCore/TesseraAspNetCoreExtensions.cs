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
        /// <summary>The configuration section bound to <see cref="TesseraOptions"/> (<c>Tessera</c>); its <c>Cookie</c> subsection binds <see cref="TesseraCookieOptions"/>.</summary>
        public const string ConfigurationSection = "Tessera";

        private sealed class TesseraConfigurationMarker
        {
        }

        /// <summary>
        /// Adds Tessera: the session core (options bound from the <c>Tessera</c> configuration section and validated at
        /// start-up, the in-memory store unless another is chosen, cleanup) and the cookie transport. Replaces
        /// <c>AddSession()</c>; safe to call twice.
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
            }
            var builder = services.AddTesseraCore(configure);
            services.AddOptions<TesseraCookieOptions>().ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<TesseraCookieOptions>, TesseraCookieOptionsSetup>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TesseraCookieOptions>, TesseraCookieOptionsValidator>());
            services.TryAddSingleton<ISessionTransport, CookieSessionTransport>();
            return builder;
        }
    }
}

namespace Tessera
{
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
            Microsoft.Extensions.DependencyInjection.OptionsServiceCollectionExtensions.Configure(builder.Services, configure);
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
        /// disable sessions, and after <c>UseStaticFiles()</c> (static files never touch the session either way).
        /// A second call does nothing.
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
