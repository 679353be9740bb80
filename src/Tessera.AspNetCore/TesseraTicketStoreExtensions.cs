using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera;
using Tessera.AspNetCore;
using Tessera.AspNetCore.CookieStore;

namespace Microsoft.Extensions.DependencyInjection
{
    /// <summary>Keeps cookie authentication's tickets in Tessera sessions.</summary>
    public static class TesseraTicketStoreServiceCollectionExtensions
    {
        /// <summary>
        /// Keeps the tickets of every cookie-authentication scheme (<c>AddCookie()</c>, ASP.NET Core Identity's cookies) in
        /// the request's Tessera session instead of in the scheme's own cookie; see
        /// <see cref="AddTesseraTicketStore(IServiceCollection, string)"/>. Safe to call twice, and with the one-scheme overload.
        /// </summary>
        /// <param name="services">The services; <c>AddTessera()</c> must be called too (in either order).</param>
        /// <returns>The services.</returns>
        public static IServiceCollection AddTesseraTicketStore(this IServiceCollection services)
        {
            ArgumentNullException.ThrowIfNull(services);
            AddCore(services).Configure(o => o.AllSchemes = true);
            return services;
        }

        /// <summary>
        /// Keeps the tickets of one cookie-authentication scheme in the request's Tessera session: signing in to the
        /// scheme signs the Tessera session in (a new credential; subject = the principal's
        /// <see cref="System.Security.Claims.ClaimTypes.NameIdentifier"/>, else its <c>sub</c>, else its name) and keeps
        /// the ticket in it; the browser holds only Tessera's cookie (the scheme writes no cookie of its own); signing out
        /// destroys the session on every instance at once. Tessera's idle timeout and absolute lifetime always apply; the
        /// scheme's <c>ExpireTimeSpan</c> still applies too, so the earlier of the two ends the sign-in. The session
        /// store must keep sessions on the server: with the encrypted cookie store (<c>UseCookieStore()</c>) the host
        /// fails to start with an <see cref="OptionsValidationException"/>. Safe to call twice.
        /// </summary>
        /// <param name="services">The services; <c>AddTessera()</c> must be called too (in either order).</param>
        /// <param name="authenticationScheme">The cookie scheme's name, such as <c>Cookies</c>.</param>
        /// <returns>The services.</returns>
        public static IServiceCollection AddTesseraTicketStore(this IServiceCollection services, string authenticationScheme)
        {
            ArgumentNullException.ThrowIfNull(services);
            ArgumentException.ThrowIfNullOrEmpty(authenticationScheme);
            AddCore(services).Configure(o => o.Schemes.Add(authenticationScheme));
            return services;
        }

        private static OptionsBuilder<TesseraTicketStoreSelection> AddCore(IServiceCollection services)
        {
            services.TryAddSingleton<TesseraTicketCookie>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<CookieAuthenticationOptions>, TesseraTicketStoreSetup>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TesseraTicketStoreSelection>, TesseraTicketStoreValidator>());
            return services.AddOptions<TesseraTicketStoreSelection>().ValidateOnStart();
        }
    }
}

namespace Tessera.AspNetCore
{
    using Microsoft.Extensions.DependencyInjection;

    /// <summary>Which cookie schemes keep their tickets in Tessera.</summary>
    internal sealed class TesseraTicketStoreSelection
    {
        public bool AllSchemes { get; set; }

        public HashSet<string> Schemes { get; } = new(StringComparer.Ordinal);

        public bool Covers(string? scheme) => scheme is not null && (AllSchemes || Schemes.Contains(scheme));
    }

    /// <summary>Gives each selected cookie scheme a <see cref="TesseraTicketStore"/> and the cookie stand-in.</summary>
    internal sealed class TesseraTicketStoreSetup(
        IOptions<TesseraTicketStoreSelection> selection,
        IServiceProvider services,
        ILoggerFactory loggers) : IPostConfigureOptions<CookieAuthenticationOptions>
    {
        public void PostConfigure(string? name, CookieAuthenticationOptions options)
        {
            if (!selection.Value.Covers(name))
            {
                return;
            }
            var sessions = services.GetService<RequestSessionOpener>()
                ?? throw new InvalidOperationException("AddTesseraTicketStore() needs Tessera's services: call services.AddTessera() too.");
            var cookie = services.GetRequiredService<TesseraTicketCookie>();
            options.SessionStore = new TesseraTicketStore(name!, sessions, loggers.CreateLogger<TesseraTicketStore>());
            options.CookieManager = cookie;
            options.TicketDataFormat = cookie;
        }
    }

    /// <summary>Fails the host's start when the tickets could not live on the server.</summary>
    internal sealed class TesseraTicketStoreValidator(IServiceProvider services) : IValidateOptions<TesseraTicketStoreSelection>
    {
        public ValidateOptionsResult Validate(string? name, TesseraTicketStoreSelection options)
        {
            if (services.GetService<RequestSessionOpener>() is null)
            {
                return ValidateOptionsResult.Fail("AddTesseraTicketStore() needs Tessera's services: call services.AddTessera() too.");
            }
            if (services.GetService<ISessionStore>() is CookieSessionStore)
            {
                return ValidateOptionsResult.Fail(
                    "AddTesseraTicketStore() cannot keep cookie authentication's tickets in the encrypted cookie store (UseCookieStore()): "
                    + "the ticket would travel in the browser's cookie again, and a copied cookie could not be refused after sign-out. "
                    + "Choose a server-side store (UseMemoryStore, UseSqliteStore, UsePostgreSqlStore, UseRedisStore), or remove AddTesseraTicketStore().");
            }
            return ValidateOptionsResult.Success;
        }
    }
}
