namespace Tessera;

/// <summary>What kind of credential a session view was opened with.</summary>
public enum SessionCredentialKind
{
    /// <summary>A signed cookie token.</summary>
    Cookie = 0,

    /// <summary>An access JWT (<c>Authorization: Bearer</c>).</summary>
    AccessToken = 1,
}
