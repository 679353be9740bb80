using System.Text;

namespace Tessera.Testing;

/// <summary>What a hostile request got back.</summary>
/// <param name="Status">The status code.</param>
/// <param name="Body">The body as text.</param>
/// <param name="Challenge">The <c>WWW-Authenticate</c> header, or an empty string.</param>
/// <param name="Headers">Every response header, one per line, for "was the credential echoed" checks.</param>
internal sealed record HostileResponse(int Status, string Body, string Challenge, string Headers);

/// <summary>
/// A real HTTP client (<see cref="SocketsHttpHandler"/>, keep-alive, no cookie container) that sends header values
/// exactly as given: UTF-8 by default so non-ASCII reaches the server as its UTF-8 bytes, or Latin-1 per request so a
/// test can send bytes that are not UTF-8 at all. <see cref="CookieClient"/> keeps a session cookie; this one sends
/// whatever a hostile client would.
/// </summary>
internal sealed class HostileHttpClient : IDisposable
{
    private static readonly HttpRequestOptionsKey<bool> Latin1 = new("Tessera.Testing.Hostile.Latin1");

    private readonly HttpClient _http;

    public HostileHttpClient(Uri baseAddress, int connections = 1)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            UseCookies = false,
            AllowAutoRedirect = false,
            MaxConnectionsPerServer = connections,
            RequestHeaderEncodingSelector = (_, request) =>
                request is not null && request.Options.TryGetValue(Latin1, out var latin1) && latin1 ? Encoding.Latin1 : Encoding.UTF8,
        })
        {
            BaseAddress = baseAddress,
        };
    }

    /// <summary>Sends one request.</summary>
    /// <param name="method">GET or POST.</param>
    /// <param name="path">The path.</param>
    /// <param name="cookie">The whole <c>Cookie</c> header value, or <see langword="null"/>.</param>
    /// <param name="authorization"><c>Authorization</c> header values, or <see langword="null"/>.</param>
    /// <param name="json">A JSON body, or <see langword="null"/> (a POST then has an empty body).</param>
    /// <param name="latin1">Whether header values go out as Latin-1 bytes rather than UTF-8.</param>
    /// <param name="allHeaders">Whether to collect every response header into <see cref="HostileResponse.Headers"/> (else it is empty).</param>
    public async Task<HostileResponse> SendAsync(HttpMethod method, string path, string? cookie = null, IReadOnlyList<string>? authorization = null, string? json = null, bool latin1 = false, bool allHeaders = true)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        else if (method == HttpMethod.Post)
        {
            request.Content = new ByteArrayContent([]);
        }
        if (cookie is not null)
        {
            request.Headers.TryAddWithoutValidation("Cookie", cookie);
        }
        foreach (var value in authorization ?? [])
        {
            request.Headers.TryAddWithoutValidation("Authorization", value);
        }
        request.Options.Set(Latin1, latin1);
        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        var headers = allHeaders
            ? string.Join('\n', response.Headers.NonValidated.Concat(response.Content.Headers.NonValidated).Select(header => header.Key + ": " + string.Join(", ", header.Value)))
            : string.Empty;
        var challenge = response.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var values) ? string.Join(", ", values) : string.Empty;
        return new HostileResponse((int)response.StatusCode, body, challenge, headers);
    }

    public void Dispose() => _http.Dispose();
}
