using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// A raw WebSocket connection attempt on a real server, for what the SignalR client hides: the handshake's HTTP status
/// when the upgrade is refused, a connection ticket used twice, an <c>Origin</c> header of the test's choosing. Dispose
/// it to close the socket.
/// </summary>
/// <param name="Socket">The socket: <see cref="WebSocketState.Open"/> when the upgrade succeeded.</param>
/// <param name="Status">The handshake's HTTP status: <see cref="HttpStatusCode.SwitchingProtocols"/> when it succeeded, else why it was refused.</param>
public sealed record WebSocketAttempt(ClientWebSocket Socket, HttpStatusCode Status) : IDisposable
{
    /// <summary>
    /// Opens a WebSocket to <paramref name="pathAndQuery"/> on <paramref name="server"/> (<c>ws://</c>). A refused
    /// upgrade is not an exception: <see cref="Status"/> says why.
    /// </summary>
    /// <param name="server">The server's base address (<c>http://</c>).</param>
    /// <param name="pathAndQuery">The path and query string, such as <c>/hubs/test?access_token=...</c>.</param>
    /// <param name="origin">An <c>Origin</c> header to send, or <see langword="null"/> for none (the default).</param>
    /// <param name="cookie">A <c>Cookie</c> header to send, or <see langword="null"/> for none (the default).</param>
    /// <returns>The attempt, open or refused.</returns>
    public static async Task<WebSocketAttempt> ConnectAsync(Uri server, string pathAndQuery, string? origin = null, string? cookie = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }
        if (cookie is not null)
        {
            socket.Options.SetRequestHeader("Cookie", cookie);
        }
        try
        {
            await socket.ConnectAsync(new UriBuilder(new Uri(server, pathAndQuery)) { Scheme = "ws" }.Uri, TestContext.Current.CancellationToken);
        }
        catch (WebSocketException)
        {
            // Refused before the upgrade: the status code says why.
        }
        return new WebSocketAttempt(socket, socket.HttpStatusCode);
    }

    /// <summary>
    /// Negotiates a SignalR connection with an access token, as a token client does before it opens the WebSocket:
    /// the connection ticket Tessera put in the negotiate response, SignalR's connection token and the transports offered.
    /// Throws when the negotiate request does not succeed.
    /// </summary>
    /// <param name="server">The server's base address.</param>
    /// <param name="hubPath">The hub's path, such as <c>/hubs/test</c>.</param>
    /// <param name="accessToken">The access token sent as <c>Authorization: Bearer</c>.</param>
    /// <returns>The ticket (the response's <c>accessToken</c>), the connection token and the transports' names.</returns>
    public static async Task<(string Ticket, string ConnectionToken, string[] Transports)> NegotiateAsync(Uri server, string hubPath, string accessToken)
    {
        using var http = new HttpClient { BaseAddress = server };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{hubPath}/negotiate?negotiateVersion=1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        var root = json.RootElement;
        return (root.GetProperty("accessToken").GetString()!, root.GetProperty("connectionToken").GetString()!,
            [.. root.GetProperty("availableTransports").EnumerateArray().Select(t => t.GetProperty("transport").GetString()!)]);
    }

    /// <summary>Closes the socket.</summary>
    public void Dispose() => Socket.Dispose();
}
