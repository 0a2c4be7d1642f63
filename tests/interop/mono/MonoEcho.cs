// Mono WCF (System.ServiceModel) side of the wssc interoperability tests.
//
//   mono MonoEcho.exe service PORT PFX_PATH PFX_PASSWORD [SC]   hosts http://127.0.0.1:PORT/echo, prints READY, runs until stdin closes
//   mono MonoEcho.exe client URL SERVICE_CERT_PATH [TEXT [SC]]  calls the echo operation once, prints ACTION and RESPONSE <body xml>
//   mono MonoEcho.exe describe [SC]                             prints the binding's security settings
// SC is the WS-SecureConversation version, "2005-02" (default) or "1.3".
// WSSC_MONO_ENDORSE (set to anything) adds a client X.509 token as endorsing supporting token to the binding
// (WCF's certificate client over the symmetric binding); the client then signs with WSSC_MONO_CLIENT_PFX
// (password as the service's), the service accepts any client certificate that verifies.
// WSSC_MONO_USERNAME=name:password adds a signed and encrypted UsernameToken (WCF's UserNameForCertificate):
// the client sends those credentials, the service accepts exactly them.
// WSSC_MONO_MUTUAL (set to anything) makes the binding WCF's MutualCertificate (asymmetric) instead; the
// client signs with WSSC_MONO_CLIENT_PFX.
//
// Binding: WCF AnonymousForCertificate (SecurityBindingElement.CreateAnonymousForCertificateBindingElement:
// SymmetricSecurityBindingElement, X509SecurityTokenParameters Thumbprint/Never as protection token) with
// RequireDerivedKeys, without secure conversation (establishSecurityContext=false), SOAP 1.2 + WS-Addressing 1.0
// over HTTP.  The contract is Message-based so the echoed Body is exactly the request's Body payload, as wssc's
// echo_handler answers.
using System;
using System.IO;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.ServiceModel;
using System.ServiceModel.Channels;
using System.ServiceModel.Description;
using System.ServiceModel.Security;
using System.ServiceModel.Security.Tokens;
using System.Text;
using System.Xml;

[ServiceContract (Namespace = "urn:wssc:demo")]
public interface IEcho
{
	[OperationContract (Action = "urn:wssc:demo:echo", ReplyAction = "urn:wssc:demo:echoResponse")]
	Message Echo (Message request);
}

[ServiceBehavior (InstanceContextMode = InstanceContextMode.Single, ConcurrencyMode = ConcurrencyMode.Single)]
public class EchoService : IEcho
{
	public Message Echo (Message request)
	{
		var doc = new XmlDocument ();
		using (XmlDictionaryReader reader = request.GetReaderAtBodyContents ())
			doc.Load (reader);
		Console.Error.WriteLine ("ECHO " + doc.DocumentElement.OuterXml);
		return Message.CreateMessage (request.Version, "urn:wssc:demo:echoResponse", new XmlNodeReader (doc.DocumentElement));
	}
}

// Accepts exactly the WSSC_MONO_USERNAME credentials (and logs the name it accepted).
public class ExactUser : System.IdentityModel.Selectors.UserNamePasswordValidator
{
	public override void Validate (string userName, string password)
	{
		if (Environment.GetEnvironmentVariable ("WSSC_MONO_USERNAME") != userName + ":" + password)
			throw new System.IdentityModel.Tokens.SecurityTokenException ("unknown user name or bad password");
		Console.Error.WriteLine ("USER " + userName);
	}
}

public static class MonoEcho
{
	public const string Payload = "<echo xmlns=\"urn:wssc:demo\"><text>{0}</text></echo>";

	// "2005-02": WS-SC February 2005 (wsHttpBinding); "1.3": WS-SC 1.3 (ws2007HttpBinding).  Without secure
	// conversation the version only decides the namespace of the wsc:DerivedKeyToken elements.
	public static MessageSecurityVersion SecurityVersion (string sc)
	{
		switch (sc) {
		case "2005-02":
			return MessageSecurityVersion.WSSecurity11WSTrustFebruary2005WSSecureConversationFebruary2005WSSecurityPolicy11;
		case "1.3":
			return MessageSecurityVersion.WSSecurity11WSTrust13WSSecureConversation13WSSecurityPolicy12;
		}
		throw new ArgumentException ("unknown WS-SC version " + sc);
	}

	// SOAP 1.2 unless WSSC_MONO_SOAP11 is set; WS-Addressing 1.0 either way.
	public static MessageVersion SoapVersion ()
	{
		if (Environment.GetEnvironmentVariable ("WSSC_MONO_SOAP11") != null)
			return MessageVersion.Soap11WSAddressing10;
		return MessageVersion.Soap12WSAddressing10;
	}

	public static Binding MakeBinding (string sc)
	{
		var encoding = new TextMessageEncodingBindingElement (SoapVersion (), Encoding.UTF8);
		if (Environment.GetEnvironmentVariable ("WSSC_MONO_MUTUAL") != null) {
			// WCF's MutualCertificate: the asymmetric binding, the client's key signs, the service's encrypts.
			var mutual = new AsymmetricSecurityBindingElement (
				new X509SecurityTokenParameters (X509KeyIdentifierClauseType.Thumbprint, SecurityTokenInclusionMode.Never),
				new X509SecurityTokenParameters (X509KeyIdentifierClauseType.Any, SecurityTokenInclusionMode.AlwaysToRecipient));
			mutual.MessageSecurityVersion = SecurityVersion (sc);
			// As CreateMutualCertificateBindingElement does for WSS 1.1, unless WSSC_MONO_NO_CONFIRM is set.
			mutual.RequireSignatureConfirmation = Environment.GetEnvironmentVariable ("WSSC_MONO_NO_CONFIRM") == null;
			mutual.IncludeTimestamp = true;
			mutual.MessageProtectionOrder = MessageProtectionOrder.SignBeforeEncryptAndEncryptSignature;
			mutual.DefaultAlgorithmSuite = SecurityAlgorithmSuite.Basic256;
			return new CustomBinding (mutual, encoding, new HttpTransportBindingElement ());
		}
		SymmetricSecurityBindingElement security = SecurityBindingElement.CreateAnonymousForCertificateBindingElement ();
		security.MessageSecurityVersion = SecurityVersion (sc);
		security.ProtectionTokenParameters.RequireDerivedKeys = true;
		security.IncludeTimestamp = true;
		security.MessageProtectionOrder = MessageProtectionOrder.SignBeforeEncryptAndEncryptSignature;
		security.DefaultAlgorithmSuite = SecurityAlgorithmSuite.Basic256;
		if (Environment.GetEnvironmentVariable ("WSSC_MONO_USERNAME") != null)
			security.EndpointSupportingTokenParameters.SignedEncrypted.Add (new UserNameSecurityTokenParameters ());
		if (Environment.GetEnvironmentVariable ("WSSC_MONO_ENDORSE") != null)
			security.EndpointSupportingTokenParameters.Endorsing.Add (new X509SecurityTokenParameters (
				X509KeyIdentifierClauseType.Thumbprint, SecurityTokenInclusionMode.AlwaysToRecipient));
		return new CustomBinding (security, encoding, new HttpTransportBindingElement ());
	}

	static void Describe (Binding binding)
	{
		foreach (BindingElement element in ((CustomBinding) binding).Elements) {
			var sym = element as SymmetricSecurityBindingElement;
			if (sym == null) {
				Console.WriteLine ("element " + element.GetType ().Name);
				continue;
			}
			var p = sym.ProtectionTokenParameters as X509SecurityTokenParameters;
			Console.WriteLine ("element SymmetricSecurityBindingElement");
			Console.WriteLine ("  MessageSecurityVersion " + sym.MessageSecurityVersion);
			Console.WriteLine ("  ProtectionTokenParameters " + sym.ProtectionTokenParameters.GetType ().Name
				+ " ReferenceStyle=" + (p != null ? p.X509ReferenceStyle.ToString () : "?")
				+ " InclusionMode=" + sym.ProtectionTokenParameters.InclusionMode
				+ " RequireDerivedKeys=" + sym.ProtectionTokenParameters.RequireDerivedKeys);
			Console.WriteLine ("  MessageProtectionOrder " + sym.MessageProtectionOrder);
			Console.WriteLine ("  RequireSignatureConfirmation " + sym.RequireSignatureConfirmation);
			Console.WriteLine ("  IncludeTimestamp " + sym.IncludeTimestamp);
			Console.WriteLine ("  SecurityHeaderLayout " + sym.SecurityHeaderLayout);
			Console.WriteLine ("  DefaultAlgorithmSuite " + sym.DefaultAlgorithmSuite);
		}
	}

	public static int Main (string [] args)
	{
		if (args.Length < 1) {
			Console.Error.WriteLine ("usage: MonoEcho (service PORT PFX PASSWORD | client URL CERT [TEXT] | describe)");
			return 2;
		}
		try {
			switch (args [0]) {
			case "service":
				return Service (int.Parse (args [1]), args [2], args [3], args.Length > 4 ? args [4] : "2005-02");
			case "client":
				return Client (args [1], args [2], args.Length > 3 ? args [3] : "hello from Mono", args.Length > 4 ? args [4] : "2005-02");
			case "describe":
				Describe (MakeBinding (args.Length > 1 ? args [1] : "2005-02"));
				return 0;
			}
		} catch (Exception e) {
			Console.WriteLine ("ERROR " + e.GetType ().FullName + ": " + e.Message.Replace ('\n', ' '));
			Console.Error.WriteLine (e);
			return 1;
		}
		Console.Error.WriteLine ("unknown mode " + args [0]);
		return 2;
	}

	static int Service (int port, string pfxPath, string password, string sc)
	{
		var cert = new X509Certificate2 (pfxPath, password, X509KeyStorageFlags.Exportable);
		var host = new ServiceHost (typeof (EchoService));
		host.AddServiceEndpoint (typeof (IEcho), MakeBinding (sc), new Uri ("http://127.0.0.1:" + port + "/echo"));
		// Mono's ServiceHostBase.Credentials hands out a fresh object until a ServiceCredentials behavior exists.
		var credentials = host.Description.Behaviors.Find<ServiceCredentials> ();
		if (credentials == null)
			host.Description.Behaviors.Add (credentials = new ServiceCredentials ());
		credentials.ServiceCertificate.Certificate = cert;
		credentials.ClientCertificate.Authentication.CertificateValidationMode = X509CertificateValidationMode.None;
		if (Environment.GetEnvironmentVariable ("WSSC_MONO_USERNAME") != null) {
			credentials.UserNameAuthentication.UserNamePasswordValidationMode = UserNamePasswordValidationMode.Custom;
			credentials.UserNameAuthentication.CustomUserNamePasswordValidator = new ExactUser ();
		}
		var debug = host.Description.Behaviors.Find<ServiceDebugBehavior> ();
		if (debug == null)
			host.Description.Behaviors.Add (debug = new ServiceDebugBehavior ());
		debug.IncludeExceptionDetailInFaults = true;
		host.Open ();
		Console.WriteLine ("READY");
		Console.Out.Flush ();
		// Run until the test closes our stdin.
		while (Console.In.ReadLine () != null) {
		}
		host.Abort ();
		return 0;
	}

	static int Client (string url, string certPath, string text, string sc)
	{
		var cert = new X509Certificate2 (certPath);
		var address = new EndpointAddress (new Uri (url), EndpointIdentity.CreateX509CertificateIdentity (cert));
		var factory = new ChannelFactory<IEcho> (MakeBinding (sc), address);
		factory.Credentials.ServiceCertificate.DefaultCertificate = cert;
		string user = Environment.GetEnvironmentVariable ("WSSC_MONO_USERNAME");
		if (user != null) {
			factory.Credentials.UserName.UserName = user.Split (':') [0];
			factory.Credentials.UserName.Password = user.Substring (user.IndexOf (':') + 1);
		}
		string clientPfx = Environment.GetEnvironmentVariable ("WSSC_MONO_CLIENT_PFX");
		if (clientPfx != null)
			factory.Credentials.ClientCertificate.Certificate = new X509Certificate2 (clientPfx, "wssc-interop", X509KeyStorageFlags.Exportable);
		factory.Credentials.ServiceCertificate.Authentication.CertificateValidationMode = X509CertificateValidationMode.None;
		factory.Credentials.ServiceCertificate.Authentication.RevocationMode = X509RevocationMode.NoCheck;
		IEcho proxy = factory.CreateChannel ();
		var body = new XmlDocument ();
		body.LoadXml (string.Format (Payload, SecurityElement (text)));
		Message request = Message.CreateMessage (SoapVersion (), "urn:wssc:demo:echo", new XmlNodeReader (body.DocumentElement));
		Message response = proxy.Echo (request);
		if (response.IsFault) {
			MessageFault fault = MessageFault.CreateFault (response, 65536);
			Console.WriteLine ("FAULT " + fault.Code.Name + " " + fault.Reason.GetMatchingTranslation ().Text);
			return 1;
		}
		var doc = new XmlDocument ();
		using (XmlDictionaryReader reader = response.GetReaderAtBodyContents ())
			doc.Load (reader);
		Console.WriteLine ("ACTION " + response.Headers.Action);
		Console.WriteLine ("RESPONSE " + doc.DocumentElement.OuterXml);
		((IClientChannel) proxy).Close ();
		factory.Close ();
		return 0;
	}

	static string SecurityElement (string text)
	{
		return System.Security.SecurityElement.Escape (text);
	}
}
