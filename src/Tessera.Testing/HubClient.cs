using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Tessera.AspNetCore;

namespace Tessera.Testing;

/// <summary>
/// A hub that answers who the caller is; the connection-lifetime suites map it at <see cref="Path"/> with
/// <c>AddTesseraConnectionLifetime()</c>.
/// </summary>
public sealed class SessionTestHub : Microsoft.AspNetCore.SignalR.Hub
{
    /// <summary>Where the suites map the hub: <c>/hubs/test</c>.</summary>
    public const string Path = "/hubs/test";

    /// <summary>Answers <c>pong</c>: proof that the connection is open.</summary>
    /// <returns><c>pong</c>.</returns>
#pragma warning disable CA1822 // SignalR calls only instance methods of a hub.
    public string Ping() => "pong";
#pragma warning restore CA1822
}

/// <summary>
/// A real SignalR .NET client connection over WebSockets that records the <see cref="TesseraConnectionLifetime.SessionEndedMethod"/>
/// reason and the close. Dispose it to stop it.
/// </summary>
public sealed class HubClient : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private readonly TaskCompletionSource<string> _reason = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private HubClient(HubConnection connection)
    {
        _connection = connection;
        _connection.On<string>(TesseraConnectionLifetime.SessionEndedMethod, reason => _reason.TrySetResult(reason));
        _connection.Closed += _ =>
        {
            _closed.TrySetResult();
            return Task.CompletedTask;
        };
    }

    /// <summary>Connects with a session cookie (or none), or with an access token.</summary>
    /// <param name="server">The server's base address.</param>
    /// <param name="cookie">A <c>Cookie</c> header value, or <see langword="null"/>.</param>
    /// <param name="accessToken">An access token, or <see langword="null"/>.</param>
    /// <param name="path">The hub's path; default <see cref="SessionTestHub.Path"/>.</param>
    /// <param name="greeting">
    /// A client method the hub calls from its <c>OnConnectedAsync</c>; when given, connecting waits for it (so the
    /// server's connect event, and the session watch that precedes it, are done). <see langword="null"/> waits for the handshake only.
    /// </param>
    /// <returns>The connected client.</returns>
    public static async Task<HubClient> ConnectAsync(Uri server, string? cookie = null, string? accessToken = null, string path = SessionTestHub.Path, string? greeting = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server, path), options =>
            {
                options.Transports = HttpTransportType.WebSockets;
                if (cookie is not null)
                {
                    options.Headers["Cookie"] = cookie;
                }
                if (accessToken is not null)
                {
                    options.AccessTokenProvider = () => Task.FromResult<string?>(accessToken);
                }
            })
            .Build();
        var client = new HubClient(connection);
        var greeted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (greeting is not null)
        {
            connection.On(greeting, [typeof(object)], _ =>
            {
                greeted.TrySetResult();
                return Task.CompletedTask;
            });
        }
        else
        {
            greeted.SetResult();
        }
        await connection.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await greeted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return client;
    }

    /// <summary>Whether the connection is open now.</summary>
    public bool IsConnected => _connection.State == HubConnectionState.Connected;

    /// <summary>Calls the hub: succeeds only on an open connection.</summary>
    /// <returns>The hub's answer.</returns>
    public Task<string> PingAsync() => _connection.InvokeAsync<string>(nameof(SessionTestHub.Ping));

    /// <summary>
    /// Waits for the server to close the connection after telling why; returns the reason. Fails with
    /// <see cref="TimeoutException"/> after <paramref name="timeout"/> of real time (a guard, not a speed assertion).
    /// </summary>
    /// <param name="timeout">How long to wait; default 10 seconds.</param>
    /// <returns>The reason code the server sent.</returns>
    public async Task<string> WaitForSessionEndAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        var reason = await _reason.Task.WaitAsync(limit);
        await _closed.Task.WaitAsync(limit);
        return reason;
    }

    /// <summary>Waits for the connection to close, for any reason. Fails with <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    /// <param name="timeout">How long to wait.</param>
    /// <returns>A task.</returns>
    public Task WaitForCloseAsync(TimeSpan timeout) => _closed.Task.WaitAsync(timeout);

    /// <summary>Whether the server has sent a session-ended notice.</summary>
    public bool WasToldSessionEnded => _reason.Task.IsCompleted;

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
