using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Tessera;
using Tessera.AspNetCore;
using Tessera.AspNetCore.Identity;

namespace Microsoft.Extensions.DependencyInjection
{
    /// <summary>Ends Tessera sessions whose ASP.NET Core Identity security stamp changed.</summary>
    public static class TesseraIdentityServiceCollectionExtensions
    {
        /// <summary>
        /// Checks the security stamp of every signed-in Tessera session made by ASP.NET Core Identity, whether Tessera is
        /// the authentication scheme (<c>SignInManager.AuthenticationScheme = "Tessera"</c>) or Identity's cookies keep
        /// their tickets in Tessera (<c>AddTesseraTicketStore()</c>): at most once per
        /// <see cref="TesseraOptions.TouchInterval"/> (1 minute by default) per session, the principal's stamp claim
        /// (<see cref="ClaimsIdentityOptions.SecurityStampClaimType"/>) is compared with the user store's through
        /// <see cref="SignInManager{TUser}.ValidateSecurityStampAsync(System.Security.Claims.ClaimsPrincipal)"/>. A
        /// changed stamp or a deleted user revokes that session in the store (every credential of it, on every instance)
        /// and the request is not authenticated. A user store that fails is answered 503 with <c>Retry-After</c> and the
        /// session is kept (checked again on the next request). A principal without a stamp claim (signed in without
        /// Identity) is not checked. Cookie and bearer requests alike. Safe to call twice; the first
        /// <typeparamref name="TUser"/> wins.
        /// </summary>
        /// <typeparam name="TUser">Identity's user type.</typeparam>
        /// <param name="services">The services; <c>AddTessera()</c> and Identity with its <c>SignInManager</c>
        /// (<c>AddIdentity</c>, <c>AddDefaultIdentity</c>, or <c>AddIdentityCore().AddSignInManager()</c>) must be
        /// added too, in any order; without the sign-in manager the host fails to start.</param>
        /// <returns>The services.</returns>
        public static IServiceCollection AddTesseraIdentity<TUser>(this IServiceCollection services)
            where TUser : class
        {
            ArgumentNullException.ThrowIfNull(services);
            services.TryAddSingleton<ISecurityStampVerifier, IdentitySecurityStampVerifier<TUser>>();
            services.TryAddSingleton<SecurityStampCheck>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TesseraIdentitySetup>, TesseraIdentityValidator<TUser>>());
            services.AddOptions<TesseraIdentitySetup>().ValidateOnStart();
            return services;
        }
    }
}

namespace Microsoft.AspNetCore.Identity
{
    using Microsoft.Extensions.DependencyInjection;

    /// <summary>Tessera's part of a security-stamp change made in a request.</summary>
    public static class TesseraSignInManagerExtensions
    {
        /// <summary>
        /// Call after changing the signed-in user's security stamp in this request (<c>ChangePasswordAsync</c>,
        /// <c>UpdateSecurityStampAsync</c>, ...): keeps the current session signed in with the new stamp
        /// (<see cref="SignInManager{TUser}.RefreshSignInAsync"/>, with a new cookie credential; on a bearer request
        /// the token session's principal is replaced instead) and revokes every other session of the user at once, on
        /// every instance. When the request is not signed in as <paramref name="user"/>, every session of the user is
        /// revoked. To change another user's stamp (an administrator), revoke with
        /// <c>SessionManager.Subjects.RevokeAllAsync(userId)</c> instead.
        /// </summary>
        /// <typeparam name="TUser">Identity's user type.</typeparam>
        /// <param name="signInManager">The request's sign-in manager; its <see cref="SignInManager{TUser}.AuthenticationScheme"/> is the scheme refreshed.</param>
        /// <param name="user">The user whose stamp changed.</param>
        /// <param name="cancellationToken">Cancels the revocations; sessions revoked before cancellation stay revoked.</param>
        /// <returns>How many other sessions were revoked.</returns>
        /// <exception cref="InvalidOperationException">Tessera is not added, or sessions are disabled for the endpoint.</exception>
        public static async Task<int> RefreshSignInAndRevokeOtherSessionsAsync<TUser>(this SignInManager<TUser> signInManager, TUser user, CancellationToken cancellationToken = default)
            where TUser : class
        {
            ArgumentNullException.ThrowIfNull(signInManager);
            ArgumentNullException.ThrowIfNull(user);
            var context = signInManager.Context;
            var opener = context.RequestServices.GetService<RequestSessionOpener>()
                ?? throw new InvalidOperationException("RefreshSignInAndRevokeOtherSessionsAsync needs Tessera: call services.AddTessera().");
            if (RequestSessionOpener.IsDisabled(context))
            {
                throw new InvalidOperationException("RefreshSignInAndRevokeOtherSessionsAsync needs the request's Tessera session: sessions are disabled for this endpoint (DisableSession()).");
            }
            var feature = opener.GetOrOpen(context);
            var session = feature.Session;
            await session.LoadAsync(cancellationToken).ConfigureAwait(false);
            // The stamp of this session is being replaced: a check now would find the old one and end the very session
            // the user is keeping.
            feature.PrincipalRefreshed = true;
            var subject = await signInManager.UserManager.GetUserIdAsync(user).ConfigureAwait(false);
            if (session.CredentialKind == SessionCredentialKind.AccessToken)
            {
                if (!session.IsNew && string.Equals(session.Subject, subject, StringComparison.Ordinal))
                {
                    var principal = await signInManager.CreateUserPrincipalAsync(user).ConfigureAwait(false);
                    session.SetReservedJson(SessionKeys.PrincipalName, SessionPrincipal.Write(principal, items: null, TesseraAuthenticationDefaults.AuthenticationScheme));
                }
            }
            else
            {
                await signInManager.RefreshSignInAsync(user).ConfigureAwait(false);
                if (!session.IsNew && string.Equals(session.Subject, subject, StringComparison.Ordinal))
                {
                    // Cookie authentication renews a ticket it found in place; a credential change is a reason for a new
                    // credential in every set-up (Tessera's scheme already regenerated it: no second write).
                    session.Regenerate();
                }
            }
            var subjects = context.RequestServices.GetRequiredService<SessionManager>().Subjects;
            return !session.IsNew && string.Equals(session.Subject, subject, StringComparison.Ordinal)
                ? await subjects.RevokeOthersAsync(subject, session.Id, cancellationToken).ConfigureAwait(false)
                : await subjects.RevokeAllAsync(subject, cancellationToken).ConfigureAwait(false);
        }
    }
}

namespace Tessera.AspNetCore.Identity
{
    using Microsoft.Extensions.DependencyInjection;

    /// <summary>The options type <c>AddTesseraIdentity</c> validates at start-up (it has nothing to set).</summary>
    internal sealed class TesseraIdentitySetup
    {
    }

    /// <summary>Fails the host's start when the stamp could not be checked: no Tessera, or no Identity sign-in manager.</summary>
    internal sealed class TesseraIdentityValidator<TUser>(IServiceProviderIsService services) : IValidateOptions<TesseraIdentitySetup>
        where TUser : class
    {
        public ValidateOptionsResult Validate(string? name, TesseraIdentitySetup options)
        {
            if (!services.IsService(typeof(SessionManager)))
            {
                return ValidateOptionsResult.Fail("AddTesseraIdentity() needs Tessera's services: call services.AddTessera() too.");
            }
            return services.IsService(typeof(SignInManager<TUser>))
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"AddTesseraIdentity<{typeof(TUser).Name}>() checks security stamps through SignInManager<{typeof(TUser).Name}>, which is not registered: call AddIdentity<{typeof(TUser).Name}, TRole>(), AddDefaultIdentity<{typeof(TUser).Name}>() or AddIdentityCore<{typeof(TUser).Name}>().AddSignInManager().");
        }
    }
}
