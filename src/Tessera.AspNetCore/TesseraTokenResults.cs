using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Tessera.Tokens;

namespace Tessera.AspNetCore;

/// <summary>
/// Responses of token endpoints, for the built-in ones (<see cref="Microsoft.AspNetCore.Builder.TesseraTokenEndpointRouteBuilderExtensions.MapTesseraTokenEndpoints"/>)
/// and an application's own sign-in endpoint alike, so every client sees one shape.
/// </summary>
public static class TesseraTokenResults
{
    /// <summary>
    /// 200 with <c>{"accessToken","refreshToken","accessTokenExpiresAt","refreshTokenExpiresAt"}</c> (times in ISO 8601
    /// UTC) and <c>Cache-Control: no-store</c>, so no cache keeps the tokens.
    /// </summary>
    /// <param name="pair">The pair to hand to the client.</param>
    /// <returns>The result.</returns>
    public static IResult Tokens(TokenPair pair)
    {
        ArgumentNullException.ThrowIfNull(pair);
        return new TokenPairResult(pair);
    }

    /// <summary>
    /// 401 with <c>WWW-Authenticate: Bearer error="invalid_token", error_description="&lt;reason&gt;"</c> and a problem
    /// body whose <c>reason</c> is the stable failure name (<see cref="TokenFailureExtensions.ToReason"/>). The token
    /// never appears.
    /// </summary>
    /// <param name="failure">Why the token was rejected; <see cref="TokenFailure.None"/> reads as <c>invalid_token</c>.</param>
    /// <returns>The result.</returns>
    public static IResult InvalidToken(TokenFailure failure) =>
        new UnauthorizedResult(failure == TokenFailure.None ? TokenFailure.InvalidToken.ToReason() : failure.ToReason());

    /// <summary>401 with a bare <c>WWW-Authenticate: Bearer</c> (RFC 6750 §3.1: no token was presented, so no error code).</summary>
    /// <returns>The result.</returns>
    public static IResult MissingToken() => new UnauthorizedResult(null);

    internal static void MarkNoStore(HttpResponse response)
    {
        response.Headers[HeaderNames.CacheControl] = "no-store";
        response.Headers[HeaderNames.Pragma] = "no-cache";
    }

    private sealed class TokenPairResult(TokenPair pair) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            ArgumentNullException.ThrowIfNull(httpContext);
            var response = httpContext.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json; charset=utf-8";
            MarkNoStore(response);
            var writer = new Utf8JsonWriter(response.Body);
            await using var writerScope = writer.ConfigureAwait(false);
            writer.WriteStartObject();
            writer.WriteString("accessToken", pair.AccessToken);
            writer.WriteString("refreshToken", pair.RefreshToken);
            writer.WriteString("accessTokenExpiresAt", pair.AccessTokenExpiresAt.ToUniversalTime());
            writer.WriteString("refreshTokenExpiresAt", pair.RefreshTokenExpiresAt.ToUniversalTime());
            writer.WriteEndObject();
            await writer.FlushAsync(httpContext.RequestAborted).ConfigureAwait(false);
        }
    }

    private sealed class UnauthorizedResult(string? reason) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            ArgumentNullException.ThrowIfNull(httpContext);
            var response = httpContext.Response;
            response.StatusCode = StatusCodes.Status401Unauthorized;
            response.Headers.Append(HeaderNames.WWWAuthenticate, BearerChallenge.Header(reason));
            MarkNoStore(response);
            await TesseraProblem.WriteAsync(
                httpContext,
                StatusCodes.Status401Unauthorized,
                reason is null ? "An access token is required." : "The token was rejected.",
                reason).ConfigureAwait(false);
        }
    }
}

/// <summary>Writes RFC 9457 problem bodies without reflection.</summary>
internal static class TesseraProblem
{
    /// <summary>The <c>Retry-After</c> value of a 503 answered because the store failed: whole seconds, rounded up.</summary>
    public static string RetryAfter(TesseraOptions options) =>
        ((long)Math.Ceiling(options.StoreRetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static async Task WriteAsync(HttpContext context, int status, string title, string? reason = null)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/problem+json; charset=utf-8";
        var writer = new Utf8JsonWriter(response.Body);
        await using var writerScope = writer.ConfigureAwait(false);
        writer.WriteStartObject();
        writer.WriteString("type", status == StatusCodes.Status401Unauthorized
            ? "https://www.rfc-editor.org/rfc/rfc6750#section-3.1"
            : "https://www.rfc-editor.org/rfc/rfc9110#section-15.5");
        writer.WriteString("title", title);
        writer.WriteNumber("status", status);
        if (reason is not null)
        {
            writer.WriteString("detail", reason);
            writer.WriteString("reason", reason);
        }
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}
