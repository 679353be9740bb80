using System.Security.Claims;

namespace Tessera.Demo;

/// <summary>
/// The principals the demo signs in with <c>HttpContext.SignInAsync("Tessera", ...)</c>. Each carries one role, kept in
/// the session with its other claims, so <c>RequireRole</c> and <c>[Authorize(Roles = ...)]</c> work on cookie and
/// token sessions alike. Password-less sign-in only ever makes a <see cref="CustomerRole"/>; only the operator password
/// makes an <see cref="OperatorRole"/>.
/// </summary>
internal static class DemoPrincipals
{
    /// <summary>The role of everyone signed in by name alone (<c>POST /login</c>, <c>POST /api/login</c>).</summary>
    public const string CustomerRole = "customer";

    /// <summary>The role the operator page requires; granted only by the operator sign-in form.</summary>
    public const string OperatorRole = "operator";

    /// <summary>A user signed in by name alone: the name as subject and name, and the <see cref="CustomerRole"/>.</summary>
    public static ClaimsPrincipal Customer(string user) => Create(user, CustomerRole, "Demo.Passwordless");

    /// <summary>The operator, signed in with the operator password: the <see cref="OperatorRole"/>.</summary>
    public static ClaimsPrincipal Operator(string subject) => Create(subject, OperatorRole, "Demo.OperatorPassword");

    /// <summary>The roles of a principal, in the order signed in, across its identities (each with its own role claim type).</summary>
    public static string[] Roles(ClaimsPrincipal user) =>
        [.. user.Identities.SelectMany(identity => identity.FindAll(identity.RoleClaimType)).Select(claim => claim.Value)];

    private static ClaimsPrincipal Create(string subject, string role, string authenticationType) =>
        new(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, subject),
                new Claim(ClaimTypes.Name, subject),
                new Claim(ClaimTypes.Role, role),
            ],
            authenticationType));
}
