namespace Tessera.Client;

/// <summary>
/// An access token and its refresh token, as a Tessera sign-in or refresh endpoint returns them. Stored and replaced
/// together, never one without the other. <see cref="ToString"/> never shows either token.
/// </summary>
/// <param name="AccessToken">The access token sent as <c>Authorization: Bearer</c>. Not empty.</param>
/// <param name="RefreshToken">The single-use refresh token that gets the next pair. Not empty.</param>
/// <param name="AccessTokenExpiresAt">
/// When the access token expires, by the server's clock; <see langword="null"/> when unknown, in which case the client
/// reads the access token's JWT <c>exp</c> claim, and when that is missing too refreshes only on a 401.
/// </param>
/// <param name="RefreshTokenExpiresAt">When the refresh token expires; <see langword="null"/> when unknown. Informational only: the server decides.</param>
public sealed record TesseraTokenPair(
    string AccessToken,
    string RefreshToken,
    DateTimeOffset? AccessTokenExpiresAt = null,
    DateTimeOffset? RefreshTokenExpiresAt = null)
{
    /// <summary>The access token. Not empty.</summary>
    public string AccessToken { get; } = string.IsNullOrEmpty(AccessToken) ? throw new ArgumentException("The access token is empty.", nameof(AccessToken)) : AccessToken;

    /// <summary>The refresh token. Not empty.</summary>
    public string RefreshToken { get; } = string.IsNullOrEmpty(RefreshToken) ? throw new ArgumentException("The refresh token is empty.", nameof(RefreshToken)) : RefreshToken;

    /// <summary>The expiry times only, with short hashes of the tokens: a pair can be logged or shown in a debugger safely.</summary>
    /// <returns>For example <c>TesseraTokenPair { Access = 3fa85f64, Refresh = 9c1d2e77, AccessTokenExpiresAt = ... }</c>.</returns>
    public override string ToString() =>
        $"TesseraTokenPair {{ Access = {TokenHash.Of(AccessToken)}, Refresh = {TokenHash.Of(RefreshToken)}, AccessTokenExpiresAt = {AccessTokenExpiresAt:O}, RefreshTokenExpiresAt = {RefreshTokenExpiresAt:O} }}";
}
