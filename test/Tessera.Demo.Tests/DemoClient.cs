using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Tessera.Demo.Tests;

/// <summary>
/// A real HTTP client with a small cookie jar of its own (no CookieContainer), so tests see every Set-Cookie header and
/// can copy, replace or tamper with cookies.
/// </summary>
internal sealed class DemoClient : IDisposable
{
    private readonly HttpClient _http;

    public DemoClient(Uri baseAddress)
    {
        _http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = baseAddress };
    }

    /// <summary>Cookies sent with every request, by name.</summary>
    public Dictionary<string, string> Cookies { get; } = new(StringComparer.Ordinal);

    /// <summary>An access token sent as <c>Authorization: Bearer</c> with every request, or <see langword="null"/>.</summary>
    public string? AccessToken { get; set; }

    /// <summary>The raw Set-Cookie headers of the last response.</summary>
    public IReadOnlyList<string> LastSetCookies { get; private set; } = [];

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content = null, Dictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        if (Cookies.Count > 0)
        {
            request.Headers.TryAddWithoutValidation("Cookie", string.Join("; ", Cookies.Select(c => $"{c.Key}={c.Value}")));
        }
        if (AccessToken is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {AccessToken}");
        }
        request.Headers.TryAddWithoutValidation("User-Agent", "tessera-demo-tests");
        var response = await _http.SendAsync(request);
        LastSetCookies = response.Headers.TryGetValues("Set-Cookie", out var values) ? [.. values] : [];
        foreach (var header in LastSetCookies)
        {
            Apply(header);
        }
        return response;
    }

    public Task<HttpResponseMessage> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    public Task<HttpResponseMessage> PostAsync(string path) => SendAsync(HttpMethod.Post, path);

    public Task<HttpResponseMessage> PostJsonAsync(string path, object body) => SendAsync(HttpMethod.Post, path, JsonContent.Create(body));

    public Task<HttpResponseMessage> PostRawJsonAsync(string path, string json) =>
        SendAsync(HttpMethod.Post, path, new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>Sends a request and returns the JSON body, asserting the status first.</summary>
    public async Task<JsonElement> JsonAsync(HttpMethod method, string path, object? body = null, int expectedStatus = 200)
    {
        using var response = await SendAsync(method, path, body is null ? null : JsonContent.Create(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expectedStatus == (int)response.StatusCode, $"{method} {path}: expected {expectedStatus}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public void Dispose() => _http.Dispose();

    private void Apply(string header)
    {
        var parts = header.Split(';', StringSplitOptions.TrimEntries);
        var separator = parts[0].IndexOf('=', StringComparison.Ordinal);
        var name = parts[0][..separator];
        var value = parts[0][(separator + 1)..];
        var expired = value.Length == 0 || parts.Skip(1).Any(p =>
            (p.StartsWith("expires=", StringComparison.OrdinalIgnoreCase)
                && DateTimeOffset.TryParse(p["expires=".Length..], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when)
                && when <= DateTimeOffset.UtcNow)
            || p.Equals("max-age=0", StringComparison.OrdinalIgnoreCase));
        if (expired)
        {
            Cookies.Remove(name);
        }
        else
        {
            Cookies[name] = value;
        }
    }
}
