using System.Net.Http.Json;
using System.Text.Json;

namespace Tessera.HttpBench;

/// <summary>Signs users in over HTTP, as a client would, to get the credentials wrk then sends.</summary>
internal sealed class SignIn(HttpClient http)
{
    // Sign-ins are cheap; a few at once keeps setup short without starving a 2-core machine.
    private const int Parallelism = 8;

    /// <summary>
    /// <paramref name="count"/> sessions from <c>POST /login</c>, each as a <c>Cookie: name=value</c> header line, checked
    /// once with <c>GET /me</c>.
    /// </summary>
    public async Task<List<string>> CookiesAsync(Uri server, string userPrefix, int count, CancellationToken cancellationToken)
    {
        var lines = await ManyAsync(count, async i =>
        {
            using var response = await http.PostAsJsonAsync(new Uri(server, "login"), new { user = $"{userPrefix}{i}" }, cancellationToken);
            await EnsureAsync(response, "POST /login", cancellationToken);
            // The demo's cookie is __Host-tessera (Secure) in Production: a browser would not send it over plain HTTP,
            // but the server reads it whatever the scheme, so wrk can.
            var cookie = response.Headers.TryGetValues("Set-Cookie", out var values)
                ? values.Select(v => v.Split(';', 2)[0].Trim()).FirstOrDefault(v => v.Contains('=', StringComparison.Ordinal) && !v.EndsWith('='))
                : null;
            return "Cookie: " + (cookie ?? throw new InvalidOperationException("POST /login set no cookie."));
        }, cancellationToken);
        await CheckAsync(server, "me", lines[0], cancellationToken);
        return lines;
    }

    /// <summary><paramref name="count"/> token sessions from <c>POST /api/login</c>: (access token, refresh token).</summary>
    public async Task<List<(string Access, string Refresh)>> TokensAsync(Uri server, string userPrefix, int count, CancellationToken cancellationToken)
    {
        var pairs = await ManyAsync(count, async i =>
        {
            using var response = await http.PostAsJsonAsync(new Uri(server, "api/login"), new { user = $"{userPrefix}{i}" }, cancellationToken);
            await EnsureAsync(response, "POST /api/login", cancellationToken);
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return (body.RootElement.GetProperty("accessToken").GetString()!, body.RootElement.GetProperty("refreshToken").GetString()!);
        }, cancellationToken);
        await CheckAsync(server, "api/me", "Authorization: Bearer " + pairs[0].Item1, cancellationToken);
        return pairs;
    }

    private async Task CheckAsync(Uri server, string path, string headerLine, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server, path));
        var (name, value) = (headerLine.Split(':', 2)[0], headerLine.Split(':', 2)[1].Trim());
        request.Headers.TryAddWithoutValidation(name, value);
        using var response = await http.SendAsync(request, cancellationToken);
        await EnsureAsync(response, $"GET /{path} with the new credential", cancellationToken);
    }

    private static async Task EnsureAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new InvalidOperationException($"{what} answered {(int)response.StatusCode}: {body}");
        }
    }

    private static async Task<List<T>> ManyAsync<T>(int count, Func<int, Task<T>> one, CancellationToken cancellationToken)
    {
        var results = new T[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (i, _) => results[i] = await one(i));
        return [.. results];
    }
}
