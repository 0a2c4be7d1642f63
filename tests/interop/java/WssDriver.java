/*
 * Interoperability test driver for wssc: drives Apache WSS4J 1.6 (Debian
 * package libwss4j-java) to produce and consume WS-SecureConversation
 * messages (SecurityContextToken + DerivedKeyToken/P_SHA1, HMAC-SHA1
 * signature, AES-CBC encryption).
 *
 * Usage:  java -cp <classpath> WssDriver serve
 *
 * Protocol: one JSON object per line on stdin, one JSON object per line on
 * stdout.  Binary values (envelopes, keys) are base64 encoded.  Anything else
 * the JVM or a library wants to print goes to stderr (System.out is
 * redirected), so stdout only ever carries protocol lines.
 *
 * Requests (all fields strings unless noted):
 *   {"op":"ping"}
 *   {"op":"protect","envelope":b64,"key":b64,"context_id":..,
 *    "sc_version":"1.3"|"2005-02","sct_ref":"local"|"identifier"|"external",
 *    "mode":"both"|"sign"|"encrypt","encrypt_signature":true|false,
 *    "protection_order":"sign-then-encrypt"|"encrypt-then-sign"}
 *   {"op":"unprotect","envelope":b64,"key":b64,"context_id":..,
 *    "sc_version":..,"require":"none"|"sign"|"encrypt"|"both"}
 *   {"op":"bench","envelope":b64,"key":b64,"context_id":..,"sc_version":..,
 *    "sct_ref":..,"mode":..,"warmup":int,"iterations":int,
 *    "max_warmup_seconds":number}
 *   {"op":"quit"}
 *
 * Only the WSS4J 1.6 DOM API (org.apache.ws.security.*), Apache Santuario
 * (xmlsec) and the JDK are used.
 */

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.xml.XMLConstants;
import javax.xml.namespace.QName;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSDataRef;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSPasswordCallback;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.WSSecurityEngine;
import org.apache.ws.security.WSSecurityEngineResult;
import org.apache.ws.security.WSSecurityException;
import org.apache.ws.security.conversation.ConversationConstants;
import org.apache.ws.security.message.WSSecDKEncrypt;
import org.apache.ws.security.message.WSSecDKSign;
import org.apache.ws.security.message.WSSecDerivedKeyBase;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSecurityContextToken;
import org.apache.ws.security.message.WSSecTimestamp;
import org.apache.ws.security.util.WSSecurityUtil;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

public final class WssDriver {

    static final String SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope";
    static final String AES128 = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
    static final String AES192 = "http://www.w3.org/2001/04/xmlenc#aes192-cbc";
    static final String AES256 = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
    static final String HMAC_SHA1 = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
    static final String SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1";
    static final String EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
    static final int TIMESTAMP_TTL = 300;

    private static PrintStream protocolOut;

    private WssDriver() {
    }

    // ------------------------------------------------------------------
    // entry point / serve loop
    // ------------------------------------------------------------------

    public static void main(String[] args) throws Exception {
        // stdout is reserved for the JSON lines protocol.
        protocolOut = new PrintStream(
            new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        System.setOut(System.err);
        if (args.length != 1 || !"serve".equals(args[0])) {
            System.err.println("usage: WssDriver serve");
            System.exit(2);
        }
        org.apache.xml.security.Init.init();
        WSSConfig.init();

        BufferedReader in = new BufferedReader(
            new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.trim().isEmpty()) {
                continue;
            }
            Map<String, Object> resp;
            boolean quit = false;
            try {
                Map<String, Object> req = Json.parseObject(line);
                String op = str(req, "op", "");
                if ("quit".equals(op)) {
                    quit = true;
                    resp = new LinkedHashMap<String, Object>();
                    resp.put("ok", Boolean.TRUE);
                } else {
                    resp = dispatch(op, req);
                }
                if (req.containsKey("id")) {
                    resp.put("id", req.get("id"));
                }
            } catch (Throwable t) {
                resp = new LinkedHashMap<String, Object>();
                resp.put("ok", Boolean.FALSE);
                resp.put("error", describe(t));
            }
            protocolOut.println(Json.write(resp));
            protocolOut.flush();
            if (quit) {
                break;
            }
        }
    }

    static Map<String, Object> dispatch(String op, Map<String, Object> req) throws Exception {
        Map<String, Object> resp = new LinkedHashMap<String, Object>();
        if ("ping".equals(op)) {
            resp.put("ok", Boolean.TRUE);
            resp.put("wss4j", implVersion(WSSecurityEngine.class));
            resp.put("xmlsec", implVersion(org.apache.xml.security.Init.class));
            resp.put("java", System.getProperty("java.version"));
            return resp;
        }
        if ("protect".equals(op)) {
            Params p = Params.from(req);
            byte[] out = protect(p);
            resp.put("ok", Boolean.TRUE);
            resp.put("envelope", Base64.getEncoder().encodeToString(out));
            return resp;
        }
        if ("unprotect".equals(op)) {
            Params p = Params.from(req);
            String require = str(req, "require", "none");
            return unprotect(p, require);
        }
        if ("bench".equals(op)) {
            Params p = Params.from(req);
            int warmup = (int) num(req, "warmup", 2000);
            int iterations = (int) num(req, "iterations", 2000);
            Object mws = req.get("max_warmup_seconds");
            double maxWarmupSeconds = mws instanceof Number ? ((Number) mws).doubleValue() : 0.0;
            return bench(p, warmup, iterations, maxWarmupSeconds);
        }
        throw new IllegalArgumentException("unknown op: " + op);
    }

    static String implVersion(Class<?> c) {
        Package p = c.getPackage();
        String v = p == null ? null : p.getImplementationVersion();
        return v == null ? "unknown" : v;
    }

    // ------------------------------------------------------------------
    // parameters
    // ------------------------------------------------------------------

    static final class Params {
        byte[] envelope;
        byte[] key;
        String contextId;
        String scVersion;
        int wscVersion;
        String wscNs;
        String sctRef;
        String mode;
        boolean encryptSignature;
        boolean encryptFirst;

        static Params from(Map<String, Object> req) throws Exception {
            Params p = new Params();
            p.envelope = Base64.getDecoder().decode(str(req, "envelope", null));
            p.key = Base64.getDecoder().decode(str(req, "key", null));
            p.contextId = str(req, "context_id", null);
            p.scVersion = str(req, "sc_version", "1.3");
            if ("1.3".equals(p.scVersion)) {
                p.wscVersion = ConversationConstants.VERSION_05_12;
            } else if ("2005-02".equals(p.scVersion)) {
                p.wscVersion = ConversationConstants.VERSION_05_02;
            } else {
                throw new IllegalArgumentException("unknown sc_version: " + p.scVersion);
            }
            p.wscNs = ConversationConstants.getWSCNs(p.wscVersion);
            p.sctRef = str(req, "sct_ref", "local");
            if (!"local".equals(p.sctRef) && !"identifier".equals(p.sctRef)
                && !"external".equals(p.sctRef)) {
                throw new IllegalArgumentException("unknown sct_ref: " + p.sctRef);
            }
            p.mode = str(req, "mode", "both");
            if (!"both".equals(p.mode) && !"sign".equals(p.mode) && !"encrypt".equals(p.mode)) {
                throw new IllegalArgumentException("unknown mode: " + p.mode);
            }
            Object es = req.get("encrypt_signature");
            p.encryptSignature = es == null || Boolean.TRUE.equals(es);
            String order = str(req, "protection_order", "sign-then-encrypt");
            if ("encrypt-then-sign".equals(order)) {
                p.encryptFirst = true;
            } else if (!"sign-then-encrypt".equals(order)) {
                throw new IllegalArgumentException("unknown protection_order: " + order);
            }
            return p;
        }

        /** Basic128 / Basic192 / Basic256 depending on the SCT key size. */
        int sigKeyLength() {
            switch (key.length) {
                case 16: return 16;
                case 24: return 24;
                case 32: return 24;
                default: throw new IllegalArgumentException(
                    "unsupported SCT key length " + key.length + " (want 16, 24 or 32)");
            }
        }

        int encKeyLength() {
            switch (key.length) {
                case 16: return 16;
                case 24: return 24;
                case 32: return 32;
                default: throw new IllegalArgumentException(
                    "unsupported SCT key length " + key.length + " (want 16, 24 or 32)");
            }
        }

        String encAlgorithm() {
            switch (encKeyLength()) {
                case 16: return AES128;
                case 24: return AES192;
                default: return AES256;
            }
        }
    }

    // ------------------------------------------------------------------
    // protect
    // ------------------------------------------------------------------

    static byte[] protect(Params p) throws Exception {
        Document doc = parse(p.envelope);
        secure(doc, p);
        return serialize(doc);
    }

    /**
     * Secures the document in place.  Resulting Security header layout
     * (WCF "Strict"-like):
     *   sign-then-encrypt (default):
     *     Timestamp, [SCT], [DKT(sig)], [DKT(enc)], [ReferenceList],
     *     [ds:Signature | xenc:EncryptedData(ds:Signature)]
     *   encrypt-then-sign (mode "both" only):
     *     Timestamp, [SCT], DKT(sig), DKT(enc), ds:Signature, ReferenceList
     */
    static void secure(Document doc, Params p) throws Exception {
        WSSConfig config = WSSConfig.getNewInstance();
        String soapNs = doc.getDocumentElement().getNamespaceURI();
        if (!SOAP11_NS.equals(soapNs) && !SOAP12_NS.equals(soapNs)) {
            throw new IllegalArgumentException("not a SOAP 1.1/1.2 envelope: " + soapNs);
        }

        WSSecHeader secHeader = new WSSecHeader();
        secHeader.setMustUnderstand(true);
        Element security = secHeader.insertSecurityHeader(doc);

        // wsu:Timestamp
        WSSecTimestamp timestamp = new WSSecTimestamp(config);
        timestamp.setTimeToLive(TIMESTAMP_TTL);
        timestamp.prepare(doc);
        security.appendChild(timestamp.getElement());

        // wsc:SecurityContextToken
        String sctWsuId = null;
        if (!"external".equals(p.sctRef)) {
            WSSecSecurityContextToken sct = new WSSecSecurityContextToken();
            sct.setWscVersion(p.wscVersion);
            sct.setIdentifier(p.contextId);
            sctWsuId = config.getIdAllocator().createId("SCT-", null);
            sct.setSctId(sctWsuId);
            sct.prepare(doc, null);
            security.appendChild(sct.getSct().getElement());
        }

        boolean doSign = !"encrypt".equals(p.mode);
        boolean doEncrypt = !"sign".equals(p.mode);
        boolean encryptFirst = doSign && doEncrypt && p.encryptFirst;

        // 1. derived key tokens (signature DKT first), appended in order
        WSSecDKSign sign = null;
        if (doSign) {
            sign = new WSSecDKSign(config);
            configureDerivedKey(sign, p, sctWsuId);
            sign.setSignatureAlgorithm(HMAC_SHA1);
            sign.setDigestAlgorithm(SHA1);
            sign.setSigCanonicalization(EXC_C14N);
            sign.setDerivedKeyLength(p.sigKeyLength());
            sign.prepare(doc, secHeader);
            security.appendChild(sign.getdktElement());
        }
        WSSecDKEncrypt encrypt = null;
        if (doEncrypt) {
            encrypt = new WSSecDKEncrypt(config);
            configureDerivedKey(encrypt, p, sctWsuId);
            encrypt.setSymmetricEncAlgorithm(p.encAlgorithm());
            encrypt.setDerivedKeyLength(p.encKeyLength());
            encrypt.prepare(doc);
            security.appendChild(encrypt.getdktElement());
        }

        List<WSEncryptionPart> encParts = new ArrayList<WSEncryptionPart>();
        encParts.add(new WSEncryptionPart(WSConstants.ELEM_BODY, soapNs, "Content"));

        if (encryptFirst) {
            // encrypt-then-sign: ..., DKT(sig), DKT(enc), ds:Signature, ReferenceList
            Element refList = encrypt.encryptForExternalRef(null, encParts);
            signParts(sign, secHeader, soapNs);
            security.appendChild(refList);
            return;
        }

        Element signatureElement = null;
        if (doSign) {
            signParts(sign, secHeader, soapNs);
            signatureElement = sign.getSignatureElement();
        }
        if (doEncrypt) {
            if (signatureElement != null && p.encryptSignature) {
                encParts.add(new WSEncryptionPart(WSConstants.SIG_LN, WSConstants.SIG_NS, "Element"));
            }
            Element refList = encrypt.encryptForExternalRef(null, encParts);
            // inserted directly after the encryption DKT, i.e. before ds:Signature
            encrypt.addExternalRefElement(refList, secHeader);
        }
    }

    /** HMAC-SHA1 signature over wsu:Timestamp and soap:Body, appended to the header. */
    static void signParts(WSSecDKSign sign, WSSecHeader secHeader, String soapNs) throws Exception {
        List<WSEncryptionPart> parts = new ArrayList<WSEncryptionPart>();
        parts.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""));
        parts.add(new WSEncryptionPart(WSConstants.ELEM_BODY, soapNs, ""));
        sign.setParts(parts);
        List<javax.xml.crypto.dsig.Reference> refs = sign.addReferencesToSign(parts, secHeader);
        // prepend=false: append ds:Signature at the end of the header
        sign.computeSignature(refs, false, null);
    }

    static void configureDerivedKey(WSSecDerivedKeyBase dk, Params p, String sctWsuId) {
        dk.setWscVersion(p.wscVersion);
        dk.setCustomValueType(p.wscNs + "/sct");
        if ("local".equals(p.sctRef)) {
            // wsse:Reference URI="#<SCT wsu:Id>"
            dk.setExternalKey(p.key, sctWsuId);
            dk.setTokenIdDirectId(false);
        } else {
            // wsse:Reference URI="<wsc:Identifier>"
            dk.setExternalKey(p.key, p.contextId);
            dk.setTokenIdDirectId(true);
        }
    }

    // ------------------------------------------------------------------
    // unprotect
    // ------------------------------------------------------------------

    static final class KeyCallback implements CallbackHandler {
        final String contextId;
        final byte[] key;
        final List<String> seen = new ArrayList<String>();

        KeyCallback(String contextId, byte[] key) {
            this.contextId = contextId;
            this.key = key;
        }

        public void handle(Callback[] callbacks) throws IOException, UnsupportedCallbackException {
            for (Callback cb : callbacks) {
                if (!(cb instanceof WSPasswordCallback)) {
                    throw new UnsupportedCallbackException(cb, "unsupported callback");
                }
                WSPasswordCallback pc = (WSPasswordCallback) cb;
                String id = pc.getIdentifier();
                seen.add(usageName(pc.getUsage()) + ":" + id);
                String bare = id != null && id.startsWith("#") ? id.substring(1) : id;
                if (contextId.equals(id) || contextId.equals(bare)) {
                    pc.setKey(key.clone());
                } else {
                    throw new IOException("unknown security context identifier: " + id);
                }
            }
        }
    }

    static String usageName(int usage) {
        switch (usage) {
            case WSPasswordCallback.SECURITY_CONTEXT_TOKEN: return "SECURITY_CONTEXT_TOKEN";
            case WSPasswordCallback.SECRET_KEY: return "SECRET_KEY";
            case WSPasswordCallback.CUSTOM_TOKEN: return "CUSTOM_TOKEN";
            case WSPasswordCallback.ENCRYPTED_KEY_TOKEN: return "ENCRYPTED_KEY_TOKEN";
            case WSPasswordCallback.DECRYPT: return "DECRYPT";
            case WSPasswordCallback.SIGNATURE: return "SIGNATURE";
            case WSPasswordCallback.KEY_NAME: return "KEY_NAME";
            case WSPasswordCallback.USERNAME_TOKEN: return "USERNAME_TOKEN";
            case WSPasswordCallback.USERNAME_TOKEN_UNKNOWN: return "USERNAME_TOKEN_UNKNOWN";
            default: return "UNKNOWN(" + usage + ")";
        }
    }

    static String actionName(int action) {
        switch (action) {
            case WSConstants.UT: return "UT";
            case WSConstants.ENCR: return "ENCR";
            case WSConstants.SIGN: return "SIGN";
            case WSConstants.ST_SIGNED: return "ST_SIGNED";
            case WSConstants.ST_UNSIGNED: return "ST_UNSIGNED";
            case WSConstants.TS: return "TS";
            case WSConstants.UT_SIGN: return "UT_SIGN";
            case WSConstants.SC: return "SC";
            case WSConstants.BST: return "BST";
            case WSConstants.UT_NOPASSWORD: return "UT_NOPASSWORD";
            case WSConstants.SCT: return "SCT";
            case WSConstants.DKT: return "DKT";
            default: return "ACTION(" + action + ")";
        }
    }

    static String clark(QName q) {
        if (q == null) {
            return "?";
        }
        String ns = q.getNamespaceURI();
        return ns == null || ns.isEmpty() ? q.getLocalPart() : "{" + ns + "}" + q.getLocalPart();
    }

    static String clark(Element e) {
        String ns = e.getNamespaceURI();
        return ns == null || ns.isEmpty() ? e.getLocalName() : "{" + ns + "}" + e.getLocalName();
    }

    static Map<String, Object> unprotect(Params p, String require) {
        Map<String, Object> resp = new LinkedHashMap<String, Object>();
        KeyCallback cb = new KeyCallback(p.contextId, p.key);
        List<String> signed = new ArrayList<String>();
        List<String> encrypted = new ArrayList<String>();
        List<String> actions = new ArrayList<String>();
        List<String> sigAlgorithms = new ArrayList<String>();
        List<String> encAlgorithms = new ArrayList<String>();
        String body = null;
        String error = null;
        try {
            Document doc = parse(p.envelope);
            String soapNs = doc.getDocumentElement().getNamespaceURI();
            if (!SOAP11_NS.equals(soapNs) && !SOAP12_NS.equals(soapNs)) {
                throw new IllegalArgumentException("not a SOAP 1.1/1.2 envelope: " + soapNs);
            }
            checkWscNamespace(doc, p);

            WSSecurityEngine engine = new WSSecurityEngine();
            engine.setWssConfig(WSSConfig.getNewInstance());
            List<WSSecurityEngineResult> results =
                engine.processSecurityHeader(doc, null, cb, null);
            boolean timestampSeen = false;
            if (results != null) {
                // results are in reverse processing order; report in document order
                for (int i = results.size() - 1; i >= 0; i--) {
                    WSSecurityEngineResult r = results.get(i);
                    int action = ((Integer) r.get(WSSecurityEngineResult.TAG_ACTION)).intValue();
                    actions.add(actionName(action));
                    if (action == WSConstants.TS) {
                        timestampSeen = true;
                    }
                    @SuppressWarnings("unchecked")
                    List<WSDataRef> refs =
                        (List<WSDataRef>) r.get(WSSecurityEngineResult.TAG_DATA_REF_URIS);
                    if (action == WSConstants.SIGN) {
                        Object alg = r.get(WSSecurityEngineResult.TAG_SIGNATURE_METHOD);
                        if (alg != null) {
                            sigAlgorithms.add(alg.toString());
                        }
                        if (refs != null) {
                            for (WSDataRef ref : refs) {
                                signed.add(clark(ref.getName()));
                            }
                        }
                    } else if (action == WSConstants.ENCR && refs != null) {
                        for (WSDataRef ref : refs) {
                            String name = ref.getProtectedElement() != null
                                ? clark(ref.getProtectedElement()) : clark(ref.getName());
                            encrypted.add(name);
                            if (ref.getAlgorithm() != null
                                && !encAlgorithms.contains(ref.getAlgorithm())) {
                                encAlgorithms.add(ref.getAlgorithm());
                            }
                        }
                    }
                }
            }
            Element bodyEl = WSSecurityUtil.findBodyElement(doc);
            if (bodyEl != null) {
                body = new String(serialize(bodyEl), StandardCharsets.UTF_8);
            }
            String bodyQ = "{" + soapNs + "}Body";
            String tsQ = "{" + WSConstants.WSU_NS + "}Timestamp";
            boolean needSign = "sign".equals(require) || "both".equals(require);
            boolean needEnc = "encrypt".equals(require) || "both".equals(require);
            if (!"none".equals(require) && !needSign && !needEnc) {
                throw new IllegalArgumentException("unknown require: " + require);
            }
            if (!"none".equals(require) && !timestampSeen) {
                throw new PolicyException("no wsu:Timestamp in the security header");
            }
            if (needSign && !signed.contains(bodyQ)) {
                throw new PolicyException("soap:Body is not signed");
            }
            if (needSign && !signed.contains(tsQ)) {
                throw new PolicyException("wsu:Timestamp is not signed");
            }
            if (needEnc && !encrypted.contains(bodyQ)) {
                throw new PolicyException("soap:Body is not encrypted");
            }
        } catch (Throwable t) {
            error = describe(t);
        }
        resp.put("ok", Boolean.valueOf(error == null));
        resp.put("error", error);
        resp.put("signed", signed);
        resp.put("encrypted", encrypted);
        resp.put("actions", actions);
        resp.put("signature_algorithms", sigAlgorithms);
        resp.put("encryption_algorithms", encAlgorithms);
        resp.put("callbacks", cb.seen);
        resp.put("body", body);
        return resp;
    }

    static final class PolicyException extends Exception {
        private static final long serialVersionUID = 1L;

        PolicyException(String msg) {
            super(msg);
        }
    }

    /** All wsc:SecurityContextToken / wsc:DerivedKeyToken must use the requested WS-SC namespace. */
    static void checkWscNamespace(Document doc, Params p) throws PolicyException {
        String other = p.wscVersion == ConversationConstants.VERSION_05_12
            ? ConversationConstants.WSC_NS_05_02 : ConversationConstants.WSC_NS_05_12;
        if (doc.getElementsByTagNameNS(other, "*").getLength() > 0) {
            throw new PolicyException(
                "message uses WS-SecureConversation namespace " + other
                + " but sc_version " + p.scVersion + " was requested");
        }
    }

    // ------------------------------------------------------------------
    // bench
    // ------------------------------------------------------------------

    static final int BENCH_ROUNDS = 5;
    static final int BENCH_POOL = 64;

    /**
     * Single-threaded timings after JIT warm-up.  The measured iterations are
     * split into BENCH_ROUNDS rounds, each timing protect, unprotect and
     * protect+unprotect back to back; the reported figure per operation is
     * the median of the per-round means (the minimum is reported as well),
     * which keeps GC pauses and noise from other processes in check.
     * unprotect cycles through a pool of BENCH_POOL distinct protected
     * messages (WSS4J 1.6 keeps no replay cache).
     */
    static final int WARMUP_BATCH = 500;
    static final int WARMUP_WINDOW = 6;
    static final double WARMUP_TOLERANCE = 0.07;

    static Map<String, Object> bench(Params p, int warmup, int iterations, double maxWarmupSeconds)
        throws Exception {
        String require = p.mode;
        byte[] sample = protect(p);
        Map<String, Object> check = unprotect(withEnvelope(p, sample), require);
        if (!Boolean.TRUE.equals(check.get("ok"))) {
            throw new IllegalStateException("bench self-check failed: " + check.get("error"));
        }
        Params up = withEnvelope(p, sample);
        long sink = 0;
        // warm-up: at least `warmup` protect+unprotect round trips; with
        // maxWarmupSeconds > 0, continue (in batches) until the last
        // WARMUP_WINDOW batch means are within WARMUP_TOLERANCE of each
        // other or the time budget is spent (HotSpot needs tens of thousands
        // of WSS4J operations before C2 has compiled the hot paths).
        long warmStart = System.nanoTime();
        int warmDone = 0;
        for (; warmDone < warmup; warmDone++) {
            up.envelope = protect(p);
            sink += roundtripCheck(up, require);
        }
        boolean converged = maxWarmupSeconds <= 0;
        if (!converged) {
            long deadline = warmStart + (long) (maxWarmupSeconds * 1e9);
            double[] window = new double[WARMUP_WINDOW];
            int batches = 0;
            while (System.nanoTime() < deadline) {
                long b0 = System.nanoTime();
                for (int i = 0; i < WARMUP_BATCH; i++) {
                    up.envelope = protect(p);
                    sink += roundtripCheck(up, require);
                }
                warmDone += WARMUP_BATCH;
                window[batches % WARMUP_WINDOW] = (System.nanoTime() - b0) / 1000.0 / WARMUP_BATCH;
                batches++;
                if (batches >= WARMUP_WINDOW && max(window) <= min(window) * (1 + WARMUP_TOLERANCE)) {
                    converged = true;
                    break;
                }
            }
        }
        double warmSeconds = (System.nanoTime() - warmStart) / 1e9;
        byte[][] pool = new byte[BENCH_POOL][];
        for (int i = 0; i < pool.length; i++) {
            pool[i] = protect(p);
        }
        int perRound = Math.max(1, iterations / BENCH_ROUNDS);
        double[] prot = new double[BENCH_ROUNDS];
        double[] unprot = new double[BENCH_ROUNDS];
        double[] round = new double[BENCH_ROUNDS];
        for (int r = 0; r < BENCH_ROUNDS; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < perRound; i++) {
                sink += protect(p).length;
            }
            long t1 = System.nanoTime();
            for (int i = 0; i < perRound; i++) {
                up.envelope = pool[i % pool.length];
                sink += roundtripCheck(up, require);
            }
            long t2 = System.nanoTime();
            for (int i = 0; i < perRound; i++) {
                up.envelope = protect(p);
                sink += roundtripCheck(up, require);
            }
            long t3 = System.nanoTime();
            prot[r] = (t1 - t0) / 1000.0 / perRound;
            unprot[r] = (t2 - t1) / 1000.0 / perRound;
            round[r] = (t3 - t2) / 1000.0 / perRound;
        }
        Map<String, Object> resp = new LinkedHashMap<String, Object>();
        resp.put("ok", Boolean.TRUE);
        resp.put("protect_us", Double.valueOf(median(prot)));
        resp.put("unprotect_us", Double.valueOf(median(unprot)));
        resp.put("roundtrip_us", Double.valueOf(median(round)));
        resp.put("protect_us_min", Double.valueOf(min(prot)));
        resp.put("unprotect_us_min", Double.valueOf(min(unprot)));
        resp.put("roundtrip_us_min", Double.valueOf(min(round)));
        resp.put("warmup", Long.valueOf(warmDone));
        resp.put("warmup_seconds", Double.valueOf(warmSeconds));
        resp.put("warmup_converged", Boolean.valueOf(converged));
        resp.put("iterations", Long.valueOf((long) perRound * BENCH_ROUNDS));
        resp.put("rounds", Long.valueOf(BENCH_ROUNDS));
        resp.put("mode", p.mode);
        resp.put("protection_order", p.encryptFirst ? "encrypt-then-sign" : "sign-then-encrypt");
        resp.put("sct_ref", p.sctRef);
        resp.put("sc_version", p.scVersion);
        resp.put("key_bytes", Long.valueOf(p.key.length));
        resp.put("envelope_bytes", Long.valueOf(p.envelope.length));
        resp.put("protected_bytes", Long.valueOf(sample.length));
        resp.put("java", System.getProperty("java.version"));
        resp.put("wss4j", implVersion(WSSecurityEngine.class));
        resp.put("notes", "bytes->bytes: includes DOM parse and serialization; "
            + "unprotect includes result checks (require=" + require + "); "
            + "median of " + BENCH_ROUNDS + " rounds");
        if (sink == Long.MIN_VALUE) { // keeps the JIT from discarding work
            System.err.println("sink");
        }
        return resp;
    }

    static int roundtripCheck(Params up, String require) {
        Map<String, Object> r = unprotect(up, require);
        if (!Boolean.TRUE.equals(r.get("ok"))) {
            throw new IllegalStateException("unprotect failed during bench: " + r.get("error"));
        }
        return r.size();
    }

    static double median(double[] values) {
        double[] v = values.clone();
        java.util.Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
    }

    static double max(double[] values) {
        double m = Double.NEGATIVE_INFINITY;
        for (double d : values) {
            m = Math.max(m, d);
        }
        return m;
    }

    static double min(double[] values) {
        double m = Double.POSITIVE_INFINITY;
        for (double d : values) {
            m = Math.min(m, d);
        }
        return m;
    }

    static Params withEnvelope(Params p, byte[] envelope) {
        Params q = new Params();
        q.envelope = envelope;
        q.key = p.key;
        q.contextId = p.contextId;
        q.scVersion = p.scVersion;
        q.wscVersion = p.wscVersion;
        q.wscNs = p.wscNs;
        q.sctRef = p.sctRef;
        q.mode = p.mode;
        q.encryptSignature = p.encryptSignature;
        q.encryptFirst = p.encryptFirst;
        return q;
    }

    // ------------------------------------------------------------------
    // XML helpers
    // ------------------------------------------------------------------

    private static final ThreadLocal<DocumentBuilder> BUILDER = new ThreadLocal<DocumentBuilder>() {
        @Override
        protected DocumentBuilder initialValue() {
            try {
                DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
                f.setNamespaceAware(true);
                f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
                f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
                f.setExpandEntityReferences(false);
                return f.newDocumentBuilder();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    };

    private static final ThreadLocal<Transformer> SERIALIZER = new ThreadLocal<Transformer>() {
        @Override
        protected Transformer initialValue() {
            try {
                Transformer t = TransformerFactory.newInstance().newTransformer();
                t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
                t.setOutputProperty(OutputKeys.ENCODING, "UTF-8");
                t.setOutputProperty(OutputKeys.INDENT, "no");
                return t;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    };

    static Document parse(byte[] xml) throws Exception {
        DocumentBuilder b = BUILDER.get();
        b.reset();
        return b.parse(new ByteArrayInputStream(xml));
    }

    static byte[] serialize(Node node) throws Exception {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        Transformer t = SERIALIZER.get();
        t.transform(new DOMSource(node), new StreamResult(bos));
        return bos.toByteArray();
    }

    // ------------------------------------------------------------------
    // misc helpers
    // ------------------------------------------------------------------

    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        Throwable cur = t;
        int depth = 0;
        while (cur != null && depth < 6) {
            if (depth > 0) {
                sb.append(" | caused by: ");
            }
            sb.append(cur.getClass().getSimpleName());
            String msg = cur.getMessage();
            if (cur instanceof WSSecurityException) {
                WSSecurityException wse = (WSSecurityException) cur;
                sb.append("[").append(wse.getErrorCode()).append("]");
            }
            if (msg != null) {
                sb.append(": ").append(msg);
            }
            if (cur.getCause() == cur) {
                break;
            }
            cur = cur.getCause();
            depth++;
        }
        return sb.toString();
    }

    static String str(Map<String, Object> m, String k, String dflt) {
        Object v = m.get(k);
        if (v == null) {
            if (dflt == null) {
                throw new IllegalArgumentException("missing field: " + k);
            }
            return dflt;
        }
        return v.toString();
    }

    static long num(Map<String, Object> m, String k, long dflt) {
        Object v = m.get(k);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number) {
            return ((Number) v).longValue();
        }
        return Long.parseLong(v.toString());
    }

    // ------------------------------------------------------------------
    // minimal JSON (flat objects in, flat objects + string lists out)
    // ------------------------------------------------------------------

    static final class Json {
        private final String s;
        private int i;

        private Json(String s) {
            this.s = s;
        }

        static Map<String, Object> parseObject(String text) {
            Json j = new Json(text);
            j.ws();
            Map<String, Object> m = j.object();
            j.ws();
            if (j.i != j.s.length()) {
                throw j.err("trailing data");
            }
            return m;
        }

        private IllegalArgumentException err(String what) {
            return new IllegalArgumentException("bad JSON at offset " + i + ": " + what);
        }

        private void ws() {
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                    i++;
                } else {
                    break;
                }
            }
        }

        private void expect(char c) {
            if (i >= s.length() || s.charAt(i) != c) {
                throw err("expected '" + c + "'");
            }
            i++;
        }

        private Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<String, Object>();
            expect('{');
            ws();
            if (i < s.length() && s.charAt(i) == '}') {
                i++;
                return m;
            }
            while (true) {
                ws();
                String k = string();
                ws();
                expect(':');
                ws();
                m.put(k, value());
                ws();
                if (i < s.length() && s.charAt(i) == ',') {
                    i++;
                    continue;
                }
                expect('}');
                return m;
            }
        }

        private Object value() {
            if (i >= s.length()) {
                throw err("unexpected end");
            }
            char c = s.charAt(i);
            if (c == '"') {
                return string();
            }
            if (s.startsWith("true", i)) {
                i += 4;
                return Boolean.TRUE;
            }
            if (s.startsWith("false", i)) {
                i += 5;
                return Boolean.FALSE;
            }
            if (s.startsWith("null", i)) {
                i += 4;
                return null;
            }
            if (c == '-' || (c >= '0' && c <= '9')) {
                int start = i;
                i++;
                while (i < s.length() && "0123456789.eE+-".indexOf(s.charAt(i)) >= 0) {
                    i++;
                }
                String n = s.substring(start, i);
                if (n.indexOf('.') >= 0 || n.indexOf('e') >= 0 || n.indexOf('E') >= 0) {
                    return Double.valueOf(n);
                }
                return Long.valueOf(n);
            }
            throw err("unsupported value (only strings, numbers, booleans, null)");
        }

        private String string() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw err("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return sb.toString();
                }
                if (c != '\\') {
                    sb.append(c);
                    continue;
                }
                if (i >= s.length()) {
                    throw err("bad escape");
                }
                char e = s.charAt(i++);
                switch (e) {
                    case '"': sb.append('"'); break;
                    case '\\': sb.append('\\'); break;
                    case '/': sb.append('/'); break;
                    case 'b': sb.append('\b'); break;
                    case 'f': sb.append('\f'); break;
                    case 'n': sb.append('\n'); break;
                    case 'r': sb.append('\r'); break;
                    case 't': sb.append('\t'); break;
                    case 'u':
                        if (i + 4 > s.length()) {
                            throw err("bad \\u escape");
                        }
                        sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                        break;
                    default:
                        throw err("bad escape \\" + e);
                }
            }
        }

        static String write(Object v) {
            StringBuilder sb = new StringBuilder();
            write(sb, v);
            return sb.toString();
        }

        @SuppressWarnings("unchecked")
        private static void write(StringBuilder sb, Object v) {
            if (v == null) {
                sb.append("null");
            } else if (v instanceof String) {
                quote(sb, (String) v);
            } else if (v instanceof Boolean) {
                sb.append(((Boolean) v).booleanValue() ? "true" : "false");
            } else if (v instanceof Double || v instanceof Float) {
                double d = ((Number) v).doubleValue();
                if (Double.isNaN(d) || Double.isInfinite(d)) {
                    sb.append("null");
                } else {
                    sb.append(Double.toString(d));
                }
            } else if (v instanceof Number) {
                sb.append(((Number) v).longValue());
            } else if (v instanceof Map) {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    quote(sb, e.getKey());
                    sb.append(':');
                    write(sb, e.getValue());
                }
                sb.append('}');
            } else if (v instanceof List) {
                sb.append('[');
                boolean first = true;
                for (Object o : (List<Object>) v) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    write(sb, o);
                }
                sb.append(']');
            } else {
                quote(sb, v.toString());
            }
        }

        private static void quote(StringBuilder sb, String str) {
            sb.append('"');
            for (int k = 0; k < str.length(); k++) {
                char c = str.charAt(k);
                switch (c) {
                    case '"': sb.append("\\\""); break;
                    case '\\': sb.append("\\\\"); break;
                    case '\n': sb.append("\\n"); break;
                    case '\r': sb.append("\\r"); break;
                    case '\t': sb.append("\\t"); break;
                    default:
                        if (c < 0x20 || c == 0x2028 || c == 0x2029) {
                            sb.append(String.format("\\u%04x", (int) c));
                        } else {
                            sb.append(c);
                        }
                }
            }
            sb.append('"');
        }
    }
}
