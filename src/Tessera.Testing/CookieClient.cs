namespace Tessera.Testing;

/// <summary>
/// A real HTTP client that keeps one cookie by hand (no cookie container), so tests can read, replace and tamper with
/// the session cookie exactly; it sends an access token too when <see cref="AccessToken"/> is set.
/// </summary>
public sealed class CookieClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>Creates a client for a server.</summary>
    /// <param name="baseAddress">The server's address.</param>
    /// <param name="cookieName">The session cookie's name.</param>
    public CookieClient(Uri baseAddress, string cookieName)
    {
        _http = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = baseAddress };
        CookieName = cookieName;
    }

    /// <summary>The session cookie's name.</summary>
    public string CookieName { get; }

    /// <summary>The cookie value sent with each request; <see langword="null"/> sends no cookie. Updated from responses.</summary>
    public string? Cookie { get; set; }

    /// <summary>
    /// An access token sent as <c>Authorization: Bearer</c> with each request; <see langword="null"/> sends no
    /// Authorization header.
    /// </summary>
    public string? AccessToken { get; set; }

    /// <summary>The raw <c>Set-Cookie</c> header of the session cookie in the last response, or <see langword="null"/>.</summary>
    public string? LastSetCookie { get; private set; }

    /// <summary>Sends a request with the current cookie and applies the session cookie the response sets or clears.</summary>
    /// <param name="method">The method.</param>
    /// <param name="path">The path.</param>
    /// <param name="content">The body, or <see langword="null"/>.</param>
    /// <param name="cookieHeader">A raw Cookie header to send instead of the kept cookie, or <see langword="null"/>.</param>
    /// <param name="authorization">
    /// Raw Authorization header values to send instead of <see cref="AccessToken"/> (several values send several headers),
    /// or <see langword="null"/>.
    /// </param>
    /// <returns>The response.</returns>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content = null, string? cookieHeader = null, IReadOnlyList<string>? authorization = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        var header = cookieHeader ?? (Cookie is null ? null : $"{CookieName}={Cookie}");
        if (header is not null)
        {
            request.Headers.TryAddWithoutValidation("Cookie", header);
        }
        foreach (var value in authorization ?? (AccessToken is null ? [] : [$"Bearer {AccessToken}"]))
        {
            request.Headers.TryAddWithoutValidation("Authorization", value);
        }
        var response = await _http.SendAsync(request);
        LastSetCookie = null;
        if (response.Headers.TryGetValues("Set-Cookie", out var values))
        {
            foreach (var value in values)
            {
                if (!value.StartsWith(CookieName + "=", StringComparison.Ordinal))
                {
                    continue;
                }
                LastSetCookie = value;
                var cookieValue = value[(CookieName.Length + 1)..].Split(';', 2)[0];
                var expired = value.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase);
                Cookie = expired || cookieValue.Length == 0 ? null : cookieValue;
            }
        }
        return response;
    }

    /// <summary>GETs a path and returns the body; throws unless the status is a success.</summary>
    /// <param name="path">The path.</param>
    /// <returns>The body.</returns>
    public async Task<string> GetStringAsync(string path)
    {
        using var response = await SendAsync(HttpMethod.Get, path);
        return await EnsureBody(response);
    }

    /// <summary>POSTs to a path without a body and returns the body; throws unless the status is a success.</summary>
    /// <param name="path">The path.</param>
    /// <returns>The body.</returns>
    public async Task<string> PostAsync(string path)
    {
        using var response = await SendAsync(HttpMethod.Post, path, new ByteArrayContent([]));
        return await EnsureBody(response);
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private static async Task<string> EnsureBody(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{(int)response.StatusCode} {response.StatusCode}: {body}", null, response.StatusCode);
        }
        return body;
    }
}
