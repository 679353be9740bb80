using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Tessera.AspNetCore;

/// <summary>
/// Connection tickets for token clients of SignalR hubs. A browser cannot set headers on a WebSocket or EventSource
/// request, so SignalR's browser client puts its access token in the query string, where the server's own "Request
/// starting" log line and every proxy record it. Instead, the negotiate request (a POST that carries
/// <c>Authorization: Bearer</c>) gets a ticket in its response's <c>accessToken</c> field, which SignalR's clients use
/// for the rest of that connection attempt; the ticket is redeemed once, on any instance, for the access token it
/// stands for.
/// </summary>
/// <remarks>
/// A ticket is 32 random bytes. The store keeps it as a tiny session record of its own (no subject, expiring with the
/// ticket) found by the ticket's SHA-256, like a cookie credential, holding the access token encrypted with AES-256-GCM
/// under a key derived from the ticket: a copy of the store cannot be turned back into an access token. Redeeming loads
/// that record by hash and deletes it; only the caller whose delete removed it gets the token, so a ticket works once
/// across every instance sharing the store.
/// </remarks>
internal sealed partial class HubConnectionTickets
{
    private const string Prefix = "tct_";
    private const string QueryName = "access_token";
    private const string BearerScheme = "Bearer ";
    private const int TicketBytes = 32;
    private const int RouteChars = 4;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private static readonly byte[] KeyInfo = Encoding.ASCII.GetBytes("tessera connection ticket v1");
    private static readonly string RecordKey = SessionKeys.ReservedPrefix + "connection-ticket";

    private readonly SessionManager _manager;
    private readonly TesseraHubOptions _options;
    private readonly int _maxTokenLength;
    private readonly ILogger _logger;

    public HubConnectionTickets(SessionManager manager, IOptions<TesseraHubOptions> options, ILogger<HubConnectionTickets>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(options);
        _manager = manager;
        _options = options.Value;
        _maxTokenLength = manager.Options.Tokens.MaxTokenLength;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    public static bool IsHubRequest(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<HubMetadata>() is not null;

    private static bool IsNegotiate(HttpContext context) =>
        HttpMethods.IsPost(context.Request.Method) && context.GetEndpoint()?.Metadata.GetMetadata<NegotiateMetadata>() is not null;

    /// <summary>
    /// Before the session is opened, for a request to a hub's connection endpoint: a ticket (in the query string or
    /// the Authorization header) is redeemed and the request goes on as if it carried the access token in its
    /// Authorization header; an access token in the query string is moved there only when the options allow it.
    /// Answers 401 and returns <see langword="true"/> for a ticket that is unknown, expired or used, and for a refused
    /// query-string token.
    /// </summary>
    public async ValueTask<bool> RefuseAsync(HttpContext context)
    {
        if (!IsHubRequest(context) || IsNegotiate(context))
        {
            return false;
        }
        var request = context.Request;
        var header = BearerSessionTransport.ReadToken(request, _maxTokenLength);
        var query = request.Query[QueryName];
        string? ticket = null;
        if (header is not null && header.StartsWith(Prefix, StringComparison.Ordinal))
        {
            ticket = header;
        }
        else if (header is null && query.Count > 0)
        {
            var value = query.Count == 1 ? query[0] ?? string.Empty : string.Empty;
            if (value.StartsWith(Prefix, StringComparison.Ordinal))
            {
                ticket = value;
            }
            else if (_options.AllowAccessTokenInQueryString && value.Length > 0 && value.Length <= _maxTokenLength)
            {
                request.Headers.Authorization = BearerScheme + value;
                return false;
            }
            else
            {
                Log.QueryTokenRefused(_logger, RequestOriginGuard.Printable(request.Path.Value ?? "/"));
                await RefuseWithAsync(context, "access_token_in_query").ConfigureAwait(false);
                return true;
            }
        }
        if (ticket is null)
        {
            return false;
        }
        var accessToken = await RedeemAsync(ticket, context.RequestAborted).ConfigureAwait(false);
        if (accessToken is null)
        {
            Log.TicketRefused(_logger, RequestOriginGuard.Printable(request.Path.Value ?? "/"), SessionIdReference.Of(ticket));
            await RefuseWithAsync(context, "invalid_ticket").ConfigureAwait(false);
            return true;
        }
        request.Headers.Authorization = BearerScheme + accessToken;
        return false;
    }

    /// <summary>
    /// Runs a hub's negotiate request and, when it carried a live access token in its Authorization header, adds a
    /// fresh ticket to SignalR's answer as <c>accessToken</c> and keeps only the WebSockets transport in it (the
    /// ticket opens one request; Server-Sent Events and long polling send many). Other requests just run.
    /// </summary>
    public async Task NegotiateAsync(HttpContext context, HttpSession session, RequestDelegate next)
    {
        if (!IsNegotiate(context) || session.CredentialKind != SessionCredentialKind.AccessToken
            || BearerSessionTransport.ReadToken(context.Request, _maxTokenLength) is not { Length: > 0 } accessToken)
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        var response = context.Response;
        var body = response.Body;
        using var buffer = new MemoryStream();
        response.Body = buffer;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            response.Body = body;
        }
        var payload = buffer.ToArray();
        if (response.StatusCode == StatusCodes.Status200OK)
        {
            await session.LoadAsync(context.RequestAborted).ConfigureAwait(false);
            if (!session.IsNew && AddTicket(payload, await IssueAsync(accessToken, context.RequestAborted).ConfigureAwait(false)) is { } rewritten)
            {
                payload = rewritten;
                response.Headers[HeaderNames.CacheControl] = "no-store";
            }
        }
        response.ContentLength = payload.Length;
        await response.Body.WriteAsync(payload, context.RequestAborted).ConfigureAwait(false);
    }

    private static byte[]? AddTicket(byte[] payload, string ticket)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(payload);
        }
        catch (JsonException)
        {
            return null;
        }
        if (node is not JsonObject negotiate || negotiate["connectionId"] is null || negotiate["error"] is not null)
        {
            return null;
        }
        negotiate["accessToken"] = ticket;
        if (negotiate["availableTransports"] is JsonArray transports)
        {
            var webSockets = transports.Where(t => string.Equals((string?)t?["transport"], nameof(HttpTransportType.WebSockets), StringComparison.Ordinal)).Select(t => t!.DeepClone()).ToArray();
            negotiate["availableTransports"] = new JsonArray(webSockets);
        }
        return JsonSerializer.SerializeToUtf8Bytes(negotiate);
    }

    /// <summary>Issues a ticket for an access token: one store write.</summary>
    public async ValueTask<string> IssueAsync(string accessToken, CancellationToken cancellationToken)
    {
        var secret = RandomNumberGenerator.GetBytes(TicketBytes);
        var id = SessionIds.NewId();
        // The record's route travels in the ticket, as in a cookie credential, for stores sharded by session.
        var ticket = Prefix + SessionRoute.Of(id) + Base64UrlText.Encode(secret);
        var now = _manager.Now();
        var expires = now + _options.ConnectionTicketLifetime;
        var record = new SessionRecord
        {
            Id = id,
            CredentialHash = SHA256.HashData(Encoding.ASCII.GetBytes(ticket)),
            Data = new Dictionary<string, string>(StringComparer.Ordinal) { [RecordKey] = JsonSerializer.Serialize(Seal(secret, accessToken)) },
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = expires,
            AbsoluteExpiresAt = expires,
        };
        if (!await _manager.InstrumentedStore.CreateAsync(record, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException("A connection ticket collided with a stored session (a 122-bit random id or a 256-bit ticket repeated).");
        }
        return ticket;
    }

    /// <summary>The access token a ticket stands for, once; <see langword="null"/> when unknown, expired or already used.</summary>
    public async ValueTask<string?> RedeemAsync(string ticket, CancellationToken cancellationToken)
    {
        var secret = new byte[TicketBytes];
        if (!ticket.StartsWith(Prefix, StringComparison.Ordinal) || ticket.Length < Prefix.Length + RouteChars
            || !ushort.TryParse(ticket.AsSpan(Prefix.Length, RouteChars), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var route)
            || !Base64UrlText.TryDecodeExact(ticket.AsSpan(Prefix.Length + RouteChars), secret))
        {
            return null;
        }
        var store = _manager.InstrumentedStore;
        var record = await store.LoadByCredentialAsync(SHA256.HashData(Encoding.ASCII.GetBytes(ticket)), new SessionRoute(route), cancellationToken).ConfigureAwait(false);
        if (record is null || !record.Data.TryGetValue(RecordKey, out var sealedJson) || !record.IsActiveAt(_manager.Now()))
        {
            return null;
        }
        // Single use: of two instances redeeming the same ticket, only the one whose delete removed the record goes on.
        if (!await store.DeleteAsync(record.Id, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        return JsonSerializer.Deserialize<string>(sealedJson) is { } sealedText ? Open(secret, sealedText) : null;
    }

    private static string Seal(byte[] secret, string accessToken)
    {
        var plain = Encoding.UTF8.GetBytes(accessToken);
        var sealedBytes = new byte[NonceBytes + TagBytes + plain.Length];
        var nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(DeriveKey(secret), TagBytes);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceBytes + TagBytes), sealedBytes.AsSpan(NonceBytes, TagBytes));
        return Base64UrlText.Encode(sealedBytes);
    }

    private static string? Open(byte[] secret, string sealedText)
    {
        byte[] sealedBytes;
        try
        {
            sealedBytes = System.Buffers.Text.Base64Url.DecodeFromChars(sealedText);
        }
        catch (FormatException)
        {
            return null;
        }
        if (sealedBytes.Length < NonceBytes + TagBytes)
        {
            return null;
        }
        var plain = new byte[sealedBytes.Length - NonceBytes - TagBytes];
        using var aes = new AesGcm(DeriveKey(secret), TagBytes);
        try
        {
            aes.Decrypt(sealedBytes.AsSpan(0, NonceBytes), sealedBytes.AsSpan(NonceBytes + TagBytes), sealedBytes.AsSpan(NonceBytes, TagBytes), plain);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
        return Encoding.UTF8.GetString(plain);
    }

    private static byte[] DeriveKey(byte[] secret) => HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, salt: null, info: KeyInfo);

    private static async Task RefuseWithAsync(HttpContext context, string reason)
    {
        context.Response.Headers[HeaderNames.CacheControl] = "no-store";
        context.Response.Headers.Append(HeaderNames.WWWAuthenticate, BearerChallenge.Header(reason));
        await TesseraProblem.WriteAsync(context, StatusCodes.Status401Unauthorized, "The hub request's ticket or token was refused.", reason).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(2901, LogLevel.Warning, "A hub request to {Path} carried an access token in its query string and was refused with 401 (TesseraHubOptions.AllowAccessTokenInQueryString is off; clients should use the negotiate response's ticket).")]
        public static partial void QueryTokenRefused(ILogger logger, string path);

        [LoggerMessage(2902, LogLevel.Information, "A hub request to {Path} carried a connection ticket that is unknown, expired or already used (ticket {TicketRef}); refused with 401.")]
        public static partial void TicketRefused(ILogger logger, string path, string ticketRef);
    }
}
