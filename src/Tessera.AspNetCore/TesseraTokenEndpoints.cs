using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tessera.AspNetCore;
using Tessera.Tokens;

namespace Microsoft.AspNetCore.Builder
{
    /// <summary>Maps Tessera's token endpoints.</summary>
    public static class TesseraTokenEndpointRouteBuilderExtensions
    {
        /// <summary>
        /// Maps the two endpoints a token client needs besides sign-in (which the application writes, because only it
        /// knows how a user proves who they are; it answers with <see cref="TesseraTokenResults.Tokens"/>):
        /// <list type="bullet">
        /// <item><c>POST {prefix}/refresh</c> with <c>{"refreshToken":"..."}</c>: 200 a new pair (see
        /// <see cref="TesseraTokenResults.Tokens"/>), or 401 with <c>WWW-Authenticate: Bearer error="invalid_token"</c> and
        /// the reason (a rotated refresh token presented again after the grace window, or after its successor was itself
        /// rotated, revokes the whole session: <c>refresh_token_reused</c>). A body that is not JSON, or lacks the field, is a 400; another content type a 415;
        /// more than 16 KiB a 413.</item>
        /// <item><c>POST {prefix}/logout</c> with <c>Authorization: Bearer &lt;access token&gt;</c>: revokes the session and
        /// every token of it; 204, or 401 as above when the token is missing or rejected.</item>
        /// </list>
        /// Neither endpoint opens the request's session (they are marked <see cref="TesseraEndpointConventionBuilderExtensions.DisableSession"/>),
        /// and a store without token support answers 501.
        /// </summary>
        /// <param name="endpoints">The application or a route group.</param>
        /// <param name="prefix">The route prefix, say <c>/api</c>; empty maps <c>/refresh</c> and <c>/logout</c>.</param>
        /// <returns>The group holding both endpoints, to add conventions such as rate limiting.</returns>
        public static RouteGroupBuilder MapTesseraTokenEndpoints(this IEndpointRouteBuilder endpoints, string prefix = "")
        {
            ArgumentNullException.ThrowIfNull(endpoints);
            ArgumentNullException.ThrowIfNull(prefix);
            var group = endpoints.MapGroup(prefix);
            group.MapPost("/refresh", TesseraTokenEndpoints.RefreshAsync).DisableSession();
            group.MapPost("/logout", TesseraTokenEndpoints.LogoutAsync).DisableSession();
            return group;
        }
    }
}

namespace Tessera.AspNetCore
{
    internal static class TesseraTokenEndpoints
    {
        internal const int MaxBodyBytes = 16 * 1024;

        public static async Task RefreshAsync(HttpContext context)
        {
            var manager = context.RequestServices.GetRequiredService<SessionManager>();
            if (manager.Store is not ISessionTokenStore)
            {
                await TesseraProblem.WriteAsync(context, StatusCodes.Status501NotImplemented, "The session store does not support token sessions.").ConfigureAwait(false);
                return;
            }
            var request = context.Request;
            if (!request.HasJsonContentType())
            {
                await TesseraProblem.WriteAsync(context, StatusCodes.Status415UnsupportedMediaType, "Send a JSON body with Content-Type: application/json.").ConfigureAwait(false);
                return;
            }
            if (request.ContentLength > MaxBodyBytes)
            {
                await TesseraProblem.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, $"The body is larger than {MaxBodyBytes} bytes.").ConfigureAwait(false);
                return;
            }
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
            {
                sizeFeature.MaxRequestBodySize = MaxBodyBytes;
            }
            string? refreshToken;
            try
            {
                using var body = await JsonDocument.ParseAsync(request.Body, default, context.RequestAborted).ConfigureAwait(false);
                refreshToken = body.RootElement.ValueKind == JsonValueKind.Object
                    && body.RootElement.TryGetProperty("refreshToken", out var value)
                    && value.ValueKind == JsonValueKind.String
                        ? value.GetString()
                        : null;
            }
            catch (JsonException)
            {
                refreshToken = null;
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                await TesseraProblem.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, $"The body is larger than {MaxBodyBytes} bytes.").ConfigureAwait(false);
                return;
            }
            if (string.IsNullOrEmpty(refreshToken))
            {
                await TesseraProblem.WriteAsync(context, StatusCodes.Status400BadRequest, "The body must be a JSON object with a refreshToken string.").ConfigureAwait(false);
                return;
            }
            var result = await manager.Tokens.RefreshAsync(refreshToken, context.RequestAborted).ConfigureAwait(false);
            var response = result.Succeeded ? TesseraTokenResults.Tokens(result.Value!) : TesseraTokenResults.InvalidToken(result.Failure);
            await response.ExecuteAsync(context).ConfigureAwait(false);
        }

        public static async Task LogoutAsync(HttpContext context)
        {
            var manager = context.RequestServices.GetRequiredService<SessionManager>();
            if (manager.Store is not ISessionTokenStore)
            {
                await TesseraProblem.WriteAsync(context, StatusCodes.Status501NotImplemented, "The session store does not support token sessions.").ConfigureAwait(false);
                return;
            }
            var token = BearerSessionTransport.ReadToken(context.Request, manager.Options.Tokens.MaxTokenLength);
            if (token is null)
            {
                await TesseraTokenResults.MissingToken().ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            var result = await manager.Tokens.InvalidateAsync(token, context.RequestAborted).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                await TesseraTokenResults.InvalidToken(result.Failure).ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            context.Response.StatusCode = StatusCodes.Status204NoContent;
        }
    }
}
