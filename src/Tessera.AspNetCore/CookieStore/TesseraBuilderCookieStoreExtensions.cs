using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.AspNetCore.CookieStore;

namespace Tessera;

/// <summary>Chooses the encrypted cookie store.</summary>
public static class TesseraBuilderCookieStoreExtensions
{
    /// <summary>
    /// Keeps sessions in the client, in encrypted chunk cookies next to the session cookie
    /// (<see cref="CookieSessionStore"/>), replacing any store chosen before; registers
    /// <see cref="IHttpContextAccessor"/>, through which the store reaches the request. The encryption keys are derived
    /// from <see cref="TesseraOptions.Keys"/>, so rotating those rotates these. Without
    /// <see cref="CookieSessionStoreOptions.RevocationStore"/> nothing is kept on the server, a copy of the cookies
    /// stays valid until the session expires, and a client can restore an earlier state of its own session by sending
    /// cookies it saved earlier (so one-time flags, counters and balances never belong in it): see <c>docs/stores.md</c>.
    /// The server cannot re-read such a session, so <see cref="SessionEndWatcher"/> (and with it
    /// <c>AddTesseraConnectionLifetime()</c> and <c>WatchTesseraSessionAsync</c>) fails the host's start with this store.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Adjusts the options; <see langword="null"/> keeps the defaults (4 chunks, no revocation store).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="CookieSessionStoreOptions.MaxChunks"/> or <see cref="CookieSessionStoreOptions.ReplacedCookieGraceWindow"/> is out of range.</exception>
    /// <exception cref="ArgumentException">The revocation store is itself a cookie store.</exception>
    public static TesseraBuilder UseCookieStore(this TesseraBuilder builder, Action<CookieSessionStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new CookieSessionStoreOptions();
        configure?.Invoke(options);
        options.Validate();
        builder.Services.AddHttpContextAccessor();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SessionEndWatcherOptions>, CookieStoreWatcherValidator>());
        return builder.UseStore(sp => new CookieSessionStore(
            sp.GetRequiredService<IHttpContextAccessor>(),
            options,
            sp.GetService<TimeProvider>(),
            sp.GetService<IOptions<TesseraOptions>>(),
            sp.GetService<ILogger<CookieSessionStore>>()));
    }

    /// <summary>
    /// Fails the host's start when <see cref="SessionEndWatcher"/> would watch sessions kept in the cookie: it re-reads
    /// each watched session from the store without a request, finds none, and would close every connection as revoked.
    /// </summary>
    internal sealed class CookieStoreWatcherValidator(IServiceProvider services) : IValidateOptions<SessionEndWatcherOptions>
    {
        public ValidateOptionsResult Validate(string? name, SessionEndWatcherOptions options) =>
            services.GetService<ISessionStore>() is CookieSessionStore
                ? ValidateOptionsResult.Fail(
                    "AddTesseraConnectionLifetime() and AddTesseraSessionEndWatcher() cannot watch sessions in the encrypted cookie store (UseCookieStore()): "
                    + "the session lives in the browser's cookie, so the server cannot read it again to learn that it ended, and every connection would be closed at once. "
                    + "Choose a server-side store (UseMemoryStore, UseSqliteStore, UsePostgreSqlStore, UseRedisStore), or leave the connection lifetime out.")
                : ValidateOptionsResult.Success;
    }
}
