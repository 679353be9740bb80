using System.Security.Claims;
using Tessera.Tokens;

namespace Tessera.AspNetCore;

/// <summary>Token sessions for a signed-in principal, so bearer requests authenticate as the same principal as cookie ones.</summary>
public static class TesseraPrincipalTokenExtensions
{
    /// <summary>
    /// Creates a token session signed in as <paramref name="principal"/> and returns its first pair: the subject is the
    /// principal's <see cref="ClaimTypes.NameIdentifier"/> claim, else its <c>sub</c> claim, else its name, and the
    /// principal (every claim and identity) is kept in the session as <c>HttpContext.SignInAsync("Tessera", ...)</c> keeps it, so Tessera's
    /// authentication gives the same principal, plus <c>sid</c>, on the pair's bearer requests.
    /// </summary>
    /// <param name="tokens">The token service (<see cref="SessionManager.Tokens"/>).</param>
    /// <param name="principal">The principal to sign in.</param>
    /// <param name="data">Initial data (keys to JSON texts), or <see langword="null"/>.</param>
    /// <param name="metadata">Metadata to record, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the store writes.</param>
    /// <returns>The pair.</returns>
    /// <exception cref="InvalidOperationException">The principal has no <see cref="ClaimTypes.NameIdentifier"/> or <c>sub</c> claim and no name.</exception>
    /// <exception cref="SessionDataTooLargeException">The data and the principal are larger than <see cref="TesseraOptions.MaxDataBytes"/>.</exception>
    /// <exception cref="SessionLimitExceededException"><see cref="TesseraOptions.MaxSessionsPerSubject"/> refused the sign-in (policy <see cref="SessionLimitPolicy.RefuseNewSignIn"/>).</exception>
    /// <exception cref="SessionStoreUnavailableException">The store failed or did not answer within <see cref="TesseraOptions.StoreTimeout"/>.</exception>
    public static async ValueTask<TokenPair> CreateAsync(this SessionTokenService tokens, ClaimsPrincipal principal, IReadOnlyDictionary<string, string>? data = null, SessionMetadata? metadata = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(principal);
        var subject = SessionPrincipal.RequireSubject(principal, "Signing in to Tessera");
        var json = SessionPrincipal.Write(principal, items: null, TesseraAuthenticationDefaults.AuthenticationScheme);
        var result = await tokens.TryCreateWithPrincipalAsync(subject, data, json, metadata, cancellationToken).ConfigureAwait(false);
        return result.Value ?? throw new SessionLimitExceededException();
    }
}
