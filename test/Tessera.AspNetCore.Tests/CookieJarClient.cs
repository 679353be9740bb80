namespace Tessera.AspNetCore.Tests;

/// <summary>
/// A real HTTP client that keeps every cookie the server sets by name, as a browser's jar would (Secure cookies are sent
/// over the tests' plain http too, so Production settings can be tested on loopback), and can add request headers.
/// </summary>
internal sealed class CookieJarClient(Uri baseAddress) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = baseAddress };

    /// <summary>The cookies held, name to value.</summary>
    public Dictionary<string, string> Cookies { get; } = new(StringComparer.Ordinal);

    /// <summary>The raw Set-Cookie headers of the last response.</summary>
    public List<string> LastSetCookies { get; } = [];

    /// <summary>The raw Set-Cookie header of the last response for a cookie name, or <see langword="null"/>.</summary>
    public string? LastSetCookie(string name) => LastSetCookies.LastOrDefault(v => v.StartsWith(name + "=", StringComparison.Ordinal));

    /// <summary>Sends a request with the held cookies (and any extra headers, a name may repeat) and applies the response's cookies.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, path);
        if (method == HttpMethod.Post)
        {
            request.Content = new ByteArrayContent([]);
        }
        if (Cookies.Count > 0)
        {
            request.Headers.TryAddWithoutValidation("Cookie", string.Join("; ", Cookies.Select(c => $"{c.Key}={c.Value}")));
        }
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        var response = await _http.SendAsync(request);
        LastSetCookies.Clear();
        if (response.Headers.TryGetValues("Set-Cookie", out var values))
        {
            foreach (var value in values)
            {
                LastSetCookies.Add(value);
                var pair = value.Split(';', 2)[0];
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                var (name, cookie) = (pair[..equals], pair[(equals + 1)..]);
                if (cookie.Length == 0 || value.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase))
                {
                    Cookies.Remove(name);
                }
                else
                {
                    Cookies[name] = cookie;
                }
            }
        }
        return response;
    }

    /// <summary>Sends a request and returns its status and body.</summary>
    public async Task<(System.Net.HttpStatusCode Status, string Body)> CallAsync(HttpMethod method, string path, params (string Name, string Value)[] headers)
    {
        using var response = await SendAsync(method, path, headers);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public void Dispose() => _http.Dispose();
}
