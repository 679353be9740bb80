namespace Tessera.Client;

/// <summary>The defaults of <see cref="TesseraTokenClientOptions"/>, and the limits its validation enforces.</summary>
public static class TesseraTokenClientDefaults
{
    /// <summary>
    /// 30 seconds: a pair whose access token expires within this margin is refreshed before the request goes out (a
    /// Tessera access token lives 5 minutes by default, and the server allows 30 seconds of clock skew).
    /// </summary>
    public static readonly TimeSpan RefreshMargin = TimeSpan.FromSeconds(30);

    /// <summary>The largest <see cref="TesseraTokenClientOptions.RefreshMargin"/> accepted: 1 hour.</summary>
    public static readonly TimeSpan MaxRefreshMargin = TimeSpan.FromHours(1);

    /// <summary>30 seconds: how long one refresh call may take before it counts as failed (the request goes on with the old token).</summary>
    public static readonly TimeSpan RefreshTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The largest <see cref="TesseraTokenClientOptions.RefreshTimeout"/> accepted: 5 minutes.</summary>
    public static readonly TimeSpan MaxRefreshTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// 1 MiB: request bodies up to this size (with a known length) are buffered in memory so that the request can be
    /// sent again after a refresh; larger ones are streamed once and not retried.
    /// </summary>
    public const long MaxBufferedBodyBytes = 1024 * 1024;

    /// <summary>The largest <see cref="TesseraTokenClientOptions.MaxBufferedBodyBytes"/> accepted: 64 MiB.</summary>
    public const long MaxBufferedBodyBytesLimit = 64L * 1024 * 1024;

    /// <summary>
    /// The prefix of the named <c>HttpClient</c> that <c>AddTesseraTokenHandler</c> registers for refresh calls:
    /// <c>Tessera.Client.Refresh:</c> followed by the API client's name. Configure it (a proxy, a certificate) with
    /// <c>services.AddHttpClient(TesseraTokenClientDefaults.RefreshClientName("api"))</c>. It never carries the handler.
    /// </summary>
    public const string RefreshClientNamePrefix = "Tessera.Client.Refresh:";

    /// <summary>The name of the refresh client of the API client named <paramref name="clientName"/>.</summary>
    /// <param name="clientName">The API client's name, as given to <c>AddHttpClient</c>.</param>
    /// <returns><see cref="RefreshClientNamePrefix"/> followed by <paramref name="clientName"/>.</returns>
    public static string RefreshClientName(string clientName) => RefreshClientNamePrefix + clientName;
}
