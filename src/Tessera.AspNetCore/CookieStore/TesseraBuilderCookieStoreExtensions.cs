using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
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
        return builder.UseStore(sp => new CookieSessionStore(
            sp.GetRequiredService<IHttpContextAccessor>(),
            options,
            sp.GetService<TimeProvider>(),
            sp.GetService<IOptions<TesseraOptions>>(),
            sp.GetService<ILogger<CookieSessionStore>>()));
    }
}
