using Microsoft.Extensions.Options;

namespace Tessera.Client;

/// <summary>Options of a token client (one per API client). Validated when the client's session is created.</summary>
public sealed class TesseraTokenClientOptions
{
    /// <summary>
    /// The absolute <c>http</c> or <c>https</c> address of the refresh endpoint, such as
    /// <c>https://api.example.com/api/refresh</c> (Tessera's <c>MapTesseraTokenEndpoints("/api")</c>). Required; no default.
    /// It receives <c>POST {"refreshToken":"..."}</c> and answers a new pair, or 401 with the reason.
    /// </summary>
    public Uri? RefreshEndpoint { get; set; }

    /// <summary>
    /// How long before the access token's expiry it is refreshed, ahead of the request that would otherwise be
    /// rejected. Default <see cref="TesseraTokenClientDefaults.RefreshMargin"/> (30 seconds); from zero (refresh only
    /// once expired, or on a 401) to <see cref="TesseraTokenClientDefaults.MaxRefreshMargin"/>. A margin at least as
    /// long as the access token's lifetime refreshes before every request: keep it well below.
    /// </summary>
    public TimeSpan RefreshMargin { get; set; } = TesseraTokenClientDefaults.RefreshMargin;

    /// <summary>
    /// How long one refresh call may take. Default <see cref="TesseraTokenClientDefaults.RefreshTimeout"/> (30 seconds);
    /// positive, at most <see cref="TesseraTokenClientDefaults.MaxRefreshTimeout"/>. A refresh that times out is a
    /// transient failure: the pair is kept, and the next request that needs a refresh tries again.
    /// </summary>
    public TimeSpan RefreshTimeout { get; set; } = TesseraTokenClientDefaults.RefreshTimeout;

    /// <summary>
    /// Request bodies with a known length up to this many bytes are buffered so the request can be retried once after
    /// a 401. Default <see cref="TesseraTokenClientDefaults.MaxBufferedBodyBytes"/> (1 MiB); from 0 (never retry a
    /// request with a body) to <see cref="TesseraTokenClientDefaults.MaxBufferedBodyBytesLimit"/>. A body of unknown
    /// length (a <c>StreamContent</c> over a stream that cannot seek) is never buffered: it is sent once, as is.
    /// </summary>
    public long MaxBufferedBodyBytes { get; set; } = TesseraTokenClientDefaults.MaxBufferedBodyBytes;
}

/// <summary>Checks <see cref="TesseraTokenClientOptions"/>, naming every problem at once.</summary>
public sealed class TesseraTokenClientOptionsValidator : IValidateOptions<TesseraTokenClientOptions>
{
    /// <summary>Validates <paramref name="options"/>.</summary>
    /// <param name="name">The options' name (the API client's name), or <see langword="null"/>.</param>
    /// <param name="options">The options.</param>
    /// <returns>Success, or a failure listing every problem.</returns>
    public ValidateOptionsResult Validate(string? name, TesseraTokenClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        if (options.RefreshEndpoint is not { IsAbsoluteUri: true } endpoint || (endpoint.Scheme != Uri.UriSchemeHttps && endpoint.Scheme != Uri.UriSchemeHttp))
        {
            problems.Add("RefreshEndpoint must be an absolute http or https address, such as https://api.example.com/api/refresh.");
        }
        if (options.RefreshMargin < TimeSpan.Zero || options.RefreshMargin > TesseraTokenClientDefaults.MaxRefreshMargin)
        {
            problems.Add($"RefreshMargin must be between 0 and {TesseraTokenClientDefaults.MaxRefreshMargin}.");
        }
        if (options.RefreshTimeout <= TimeSpan.Zero || options.RefreshTimeout > TesseraTokenClientDefaults.MaxRefreshTimeout)
        {
            problems.Add($"RefreshTimeout must be positive and at most {TesseraTokenClientDefaults.MaxRefreshTimeout}.");
        }
        if (options.MaxBufferedBodyBytes < 0 || options.MaxBufferedBodyBytes > TesseraTokenClientDefaults.MaxBufferedBodyBytesLimit)
        {
            problems.Add($"MaxBufferedBodyBytes must be between 0 and {TesseraTokenClientDefaults.MaxBufferedBodyBytesLimit}.");
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
